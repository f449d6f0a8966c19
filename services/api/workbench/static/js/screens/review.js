// 审核: one queue for the office — submitted progress reports, completion requests, extension
// requests and returned assignments — each decided in place.
import { html, useState, useEffect, useLoad, useAction, Msg, Failure, Loading, Empty, fmtDate, fmtTime, setTitle } from "../lib.js";
import { post, all, ifMatch } from "../api.js";

async function load() {
  const [reports, completions, extensions, returned] = await Promise.all([
    all("/reports", { state: "submitted" }, 2000),
    all("/assignments", { state: "completion_requested", sort: "due_date" }, 2000),
    all("/extension-requests", { state: "pending" }, 2000),
    all("/assignments", { state: "returned", sort: "due_date" }, 2000),
  ]);
  // Report and extension list items name their task and unit: no further requests for the names.
  const named = (x) => ({ id: x.assignment_id, task_code: x.task_code, task_title: x.task_title, unit_name: x.unit_name });
  const rows = [
    ...reports.map((r) => ({ kind: "report", key: "r" + r.id, item: r, a: named(r), at: r.submitted_at })),
    ...completions.map((a) => ({ kind: "completion", key: "c" + a.id, item: a, a, at: a.completion_requested_at })),
    ...extensions.map((x) => ({ kind: "extension", key: "e" + x.id, item: x, a: named(x), at: x.created_at })),
    ...returned.map((a) => ({ kind: "returned", key: "t" + a.id, item: a, a, at: a.updated_at })),
  ];
  rows.sort((x, y) => String(x.at).localeCompare(String(y.at)));
  return rows;
}

const KINDS = { report: "进展报告", completion: "办结申请", extension: "延期申请", returned: "退回" };

export default function Review() {
  const [rows, error, reload] = useLoad(load, []);
  const [filter, setFilter] = useState("");
  useEffect(() => setTitle("审核"), []);
  if (error) return html`<${Failure} error=${error} onRetry=${reload} />`;
  const shown = rows ? rows.filter((r) => !filter || r.kind === filter) : [];
  return html`<section aria-labelledby="rv-title">
    <div class="head"><h1 id="rv-title">审核</h1><button type="button" onClick=${reload}>刷新</button></div>
    <div class="tabs" role="group" aria-label="审核分类">
      <button type="button" class=${"tab" + (!filter ? " on" : "")} aria-pressed=${!filter} onClick=${() => setFilter("")}>全部 <span class="count">${rows ? rows.length : "…"}</span></button>
      ${Object.entries(KINDS).map(
        ([k, v]) => html`<button type="button" class=${"tab" + (filter === k ? " on" : "")} aria-pressed=${filter === k} onClick=${() => setFilter(k)}>
          ${v} <span class="count">${rows ? rows.filter((r) => r.kind === k).length : "…"}</span></button>`,
      )}
    </div>
    ${!rows ? html`<${Loading} />` : shown.length === 0 ? html`<${Empty}>没有待审核事项</${Empty}>` : null}
    <ul class="plain" id="review-queue">
      ${shown.map((r) => html`<${Row} key=${r.key} row=${r} onDone=${reload} />`)}
    </ul>
  </section>`;
}

function Row({ row, onDone }) {
  const { kind, item, a } = row;
  const [reason, setReason] = useState("");
  const [run, busy, msg] = useAction();
  const decide = async (approve) => {
    const body = kind === "extension" ? { comment: reason || null } : { reason: reason || null };
    const path =
      kind === "report"
        ? `/reports/${item.id}/${approve ? "approve" : "reject"}`
        : kind === "extension"
          ? `/extension-requests/${item.id}/${approve ? "approve" : "reject"}`
          : `/assignments/${item.id}/${approve ? "approve" : "reject"}`;
    const opts = kind === "completion" ? ifMatch("assignment", item) : {};
    const out = await run(() => post(path, body, opts), approve ? "已通过" : "已退回");
    if (out) setTimeout(onDone, 400);
  };
  const title = a ? `${a.task_code}. ${a.task_title}` : `交办事项 #${item.assignment_id || item.id}`;
  return html`<li class="card" data-kind=${kind} data-id=${item.id}>
    <p><span class="tag">${KINDS[kind]}</span> <a href=${`/app/assignments/${a ? a.id : item.assignment_id}`}>${title}</a>
      ${a ? html` <span class="muted">· ${a.unit_name}</span>` : null} <small class="muted">${fmtTime(row.at)}</small></p>
    ${kind === "report" ? html`<p>第 ${item.period} 期，完成 ${item.percent_done}%</p>` : null}
    ${kind === "extension" ? html`<p>申请延至 <strong>${fmtDate(item.requested_due_date)}</strong>（原 ${fmtDate(item.previous_due_date)}）：${item.reason}</p>` : null}
    ${kind === "completion" || kind === "returned" ? html`<p>${item.last_reason ? `说明：${item.last_reason}` : ""}</p>` : null}
    ${kind === "returned"
      ? html`<p><a href=${`/app/assignments/${item.id}`}>重新交办或坚持交办</a></p>`
      : html`<div class="review">
          <label class="sr-only" for=${`rv-${row.key}`}>审核意见</label>
          <input id=${`rv-${row.key}`} placeholder="审核意见（退回时必填）" value=${reason} onInput=${(e) => setReason(e.target.value)} />
          <button type="button" class="primary" data-decide="approve" disabled=${busy} onClick=${() => decide(true)}>通过</button>
          <button type="button" data-decide="reject" disabled=${busy} onClick=${() => decide(false)}>退回</button>
        </div>`}
    <${Msg} msg=${msg} onRefresh=${onDone} />
  </li>`;
}
