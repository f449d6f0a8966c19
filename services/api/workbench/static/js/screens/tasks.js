// 我的待办: the unit's open assignments in the buckets people act on, with working days left or overdue.
import { html, useEffect, useLoad, Failure, Loading, Empty, StateTag, ROLE_LABELS, dueText, fmtDate, setTitle, OPEN_STATES } from "../lib.js";
import { all } from "../api.js";
import { useQuery, setQuery } from "../nav.js";

const SOON = 7; // working days: the first due-soon reminder of the default policy

const BUCKETS = [
  ["accept", "待签收", (a) => a.state === "assigned"],
  ["soon", "即将到期", (a) => !a.overdue && a.state !== "completion_requested" && a.working_days_left !== null && a.working_days_left <= SOON],
  ["overdue", "已逾期", (a) => a.overdue],
  ["returned", "已退回", (a) => a.state === "returned"],
  ["review", "待审核", (a) => a.state === "completion_requested" || a.pending_reports > 0],
  ["all", "全部在办", () => true],
];

async function load() {
  const [items, reports] = await Promise.all([
    all("/assignments", { state: OPEN_STATES, sort: "due_date" }, 2000),
    all("/reports", { state: "submitted" }, 2000),
  ]);
  const pending = {};
  for (const r of reports) pending[r.assignment_id] = (pending[r.assignment_id] || 0) + 1;
  for (const a of items) a.pending_reports = pending[a.id] || 0;
  return items;
}

export default function Tasks() {
  const q = useQuery();
  const [items, error, reload] = useLoad(load, []);
  useEffect(() => setTitle("我的待办"), []);
  useEffect(() => {
    if (items) performance.mark("duban:tasks-ready");
  }, [items]);
  const counts = {};
  if (items) for (const [key, , test] of BUCKETS) counts[key] = items.filter(test).length;
  const chosen = q.get("tab") || (items && counts.accept ? "accept" : items && counts.overdue ? "overdue" : "all");
  const bucket = BUCKETS.find((b) => b[0] === chosen) || BUCKETS[BUCKETS.length - 1];
  const rows = items ? items.filter(bucket[2]) : [];
  return html`<section aria-labelledby="tasks-title">
    <div class="head"><h1 id="tasks-title">我的待办</h1><button type="button" onClick=${reload}>刷新</button></div>
    <${Failure} error=${error} onRetry=${reload} />
    <div class="tabs" role="group" aria-label="待办分类">
      ${BUCKETS.map(
        ([key, label]) => html`<button type="button" class=${"tab" + (key === bucket[0] ? " on" : "")} aria-pressed=${key === bucket[0]}
          data-tab=${key} onClick=${() => setQuery({ tab: key })}>
          ${label} <span class="count">${items ? counts[key] : "…"}</span>
        </button>`,
      )}
    </div>
    ${items === undefined ? html`<${Loading} />` : null}
    ${items && rows.length === 0 ? html`<${Empty}>「${bucket[1]}」中没有事项</${Empty}>` : null}
    ${rows.length > 0
      ? html`<table class="list" id="tasks-table">
          <caption class="sr-only">${bucket[1]}（${rows.length} 项）</caption>
          <thead><tr><th scope="col">任务</th><th scope="col">角色</th><th scope="col">截止日期</th><th scope="col">时限</th><th scope="col">状态</th><th scope="col">进度</th></tr></thead>
          <tbody>
            ${rows.map(
              (a) => html`<tr class=${a.overdue ? "overdue" : ""} data-id=${a.id}>
                <td data-label="任务"><a href=${`/app/assignments/${a.id}`}>${a.task_code}. ${a.task_title}</a>
                  <div class="muted small">${a.plan_title}${a.period && a.period !== "all" ? ` · ${a.period}` : ""}</div></td>
                <td data-label="角色">${ROLE_LABELS[a.role] || a.role}</td>
                <td data-label="截止日期">${fmtDate(a.due_date)}</td>
                <td data-label="时限" class=${a.overdue ? "red-text" : ""}>${dueText(a)}</td>
                <td data-label="状态"><${StateTag} a=${a} />${a.pending_reports ? html` <span class="tag">进展待审核</span>` : null}</td>
                <td data-label="进度"><progress max="100" value=${a.percent_done} aria-label="完成进度"></progress> ${a.percent_done}%</td>
              </tr>`,
            )}
          </tbody>
        </table>`
      : null}
  </section>`;
}
