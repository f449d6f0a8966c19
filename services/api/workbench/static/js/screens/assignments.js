// 事项清单: the assignments a link names by its filters — a digest's "县科技局 21 项已逾期", a plan's
// publication — for the office and leaders (unit staff go to 我的待办, main.js). The filters are the
// API's own (GET /assignments), kept in the URL; what they mean is said above the list.
import { html, useState, useEffect, useAction, Msg, Loading, Empty, StateTag, dueText, fmtDate, setTitle, STATE_LABELS, OPEN_STATES } from "../lib.js";
import { get } from "../api.js";
import { useQuery } from "../nav.js";

// The query parameters a link may carry, as GET /assignments takes them.
const SINGLE = ["unit_id", "plan_id", "task_id", "overdue", "due_before", "due_after", "min_working_days_overdue", "report_missing", "period"];

function filtersOf(q) {
  const f = {};
  for (const k of SINGLE) if (q.get(k)) f[k] = q.get(k);
  const states = q.getAll("state").filter((s) => STATE_LABELS[s]);
  if (states.length) f.state = states;
  return f;
}

// What the filters select, in words: "县科技局 · 未办结 · 已逾期".
function describe(f, first) {
  const parts = [];
  if (f.unit_id) parts.push(first && String(first.unit_id) === f.unit_id ? first.unit_name : `单位 #${f.unit_id}`);
  if (f.plan_id) parts.push(first && String(first.plan_id) === f.plan_id ? `「${first.plan_title}」` : `计划 #${f.plan_id}`);
  if (f.state) {
    const open = f.state.length === OPEN_STATES.length && OPEN_STATES.every((s) => f.state.includes(s));
    parts.push(open ? "未办结" : f.state.map((s) => STATE_LABELS[s]).join("、"));
  }
  if (f.overdue === "true") parts.push("已逾期");
  if (f.overdue === "false") parts.push("未逾期");
  if (f.min_working_days_overdue) parts.push(`逾期满 ${f.min_working_days_overdue} 个工作日`);
  if (f.due_before) parts.push(`截止日期不晚于 ${f.due_before}`);
  if (f.due_after) parts.push(`截止日期不早于 ${f.due_after}`);
  if (f.report_missing) parts.push(`${f.report_missing} 期进展未报送`);
  return parts.join(" · ") || "全部事项";
}

export default function Assignments() {
  const q = useQuery();
  const filters = filtersOf(q);
  const key = JSON.stringify(filters);
  const [rows, setRows] = useState(null);
  const [cursor, setCursor] = useState(null);
  const [run, busy, msg] = useAction();
  useEffect(() => setTitle("事项清单"), []);
  const query = (next) => ({ ...filters, sort: "due_date", limit: 100, cursor: next || undefined });
  useEffect(() => {
    setRows(null);
    run(() => get("/assignments", query())).then((page) => page && (setRows(page.items), setCursor(page.next_cursor)));
  }, [key]);
  const more = () => run(() => get("/assignments", query(cursor))).then((page) => page && (setRows([...rows, ...page.items]), setCursor(page.next_cursor)));
  const what = describe(filters, rows && rows[0]);
  return html`<section aria-labelledby="as-title">
    <h1 id="as-title">事项清单</h1>
    <p id="as-filter" class="muted">${what}${rows ? `：${rows.length}${cursor ? "+" : ""} 项` : ""}</p>
    <${Msg} msg=${msg && !msg.ok ? msg : null} />
    ${rows === null && !(msg && !msg.ok) ? html`<${Loading} />` : null}
    ${rows && rows.length === 0 ? html`<${Empty}>没有符合条件的事项（可能已办结）</${Empty}>` : null}
    ${rows && rows.length
      ? html`<table class="list" id="assignments-table">
          <caption class="sr-only">${what}</caption>
          <thead><tr><th scope="col">任务</th><th scope="col">责任单位</th><th scope="col">截止日期</th><th scope="col">时限</th><th scope="col">状态</th></tr></thead>
          <tbody>${rows.map(
            (a) => html`<tr class=${a.overdue ? "overdue" : ""} data-id=${a.id}>
              <td data-label="任务"><a href=${`/app/assignments/${a.id}`}>${a.task_code}. ${a.task_title}</a>
                <div class="muted small">${a.plan_title}${a.period && a.period !== "all" ? ` · ${a.period}` : ""}</div></td>
              <td data-label="责任单位">${a.unit_name}</td>
              <td data-label="截止日期">${fmtDate(a.due_date)}</td>
              <td data-label="时限" class=${a.overdue ? "red-text" : ""}>${dueText(a)}</td>
              <td data-label="状态"><${StateTag} a=${a} /></td>
            </tr>`,
          )}</tbody>
        </table>
        ${cursor ? html`<button type="button" onClick=${more} disabled=${busy}>加载更多</button>` : null}`
      : null}
  </section>`;
}
