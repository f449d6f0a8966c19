// 批示: every instruction the user may see, pending replies first; each opens its assignment or task.
import { html, useEffect, useLoad, Failure, Loading, Empty, fmtTime, fmtDate, isUnit, setTitle } from "../lib.js";
import { all } from "../api.js";
import { useQuery } from "../nav.js";

export default function Instructions({ user }) {
  const q = useQuery();
  const task = q.get("task");
  // The list items name their task; the unit's own pending ones come first.
  const [items, error, reload] = useLoad(() => all("/instructions", { task_id: task || undefined }, 500), [task]);
  useEffect(() => setTitle("批示"), []);
  if (error) return html`<${Failure} error=${error} onRetry=${reload} />`;
  if (!items) return html`<${Loading} />`;
  const mine = (i) => isUnit(user) && i.pending_unit_ids.includes(user.unit_id);
  const sorted = [...items].sort((x, y) => mine(y) - mine(x) || y.created_at.localeCompare(x.created_at));
  return html`<section aria-labelledby="ins-list-title">
    <h1 id="ins-list-title">领导批示</h1>
    ${sorted.length === 0 ? html`<${Empty}>暂无批示</${Empty}>` : null}
    <ul class="cards">
      ${sorted.map((i) => {
        const href = i.assignment_id ? `/app/assignments/${i.assignment_id}` : `/app/instructions/${i.id}`;
        return html`<li class=${mine(i) ? "card pending" : "card"}>
          <blockquote>${i.text}</blockquote>
          <p class="muted small">${i.task_code}. ${i.task_title}${i.author_name ? ` · ${i.author_name}` : ""} · ${fmtTime(i.created_at)}${i.reply_due_date ? ` · 回复期限 ${fmtDate(i.reply_due_date)}` : ""}</p>
          <p>${mine(i) ? html`<span class="tag yellow">待本单位回复</span>` : html`<span class="tag">已回复 ${i.replied_unit_ids.length} / ${i.unit_ids.length} 个单位</span>`}
            ${href ? html` <a href=${href}>查看并回复</a>` : null}</p>
        </li>`;
      })}
    </ul>
  </section>`;
}
