// 审计日志: who changed what and when (newest first), filtered by entity, action and time; each
// entry's before/after and its place in the hash chain.
import { html, useState, useEffect, useAction, Msg, Loading, Empty, fmtTime, setTitle, getZone } from "../lib.js";
import { get } from "../api.js";
import { useQuery, setQuery } from "../nav.js";
import { DateField } from "../datefield.js";

const ENTITIES = {
  "": "全部对象",
  assignment: "交办事项",
  progress_report: "进展报告",
  extension_request: "延期申请",
  instruction: "批示",
  plan: "计划",
  task: "任务",
  unit: "单位",
  user: "用户",
  bulletin: "通报",
  assessment: "考核",
  calendar: "节假日",
};

// The start of a day in the plan's zone (China Standard Time has no daylight saving: +08:00).
const dayStart = (d) => (d ? `${d}T00:00:00${getZone() === "Asia/Shanghai" ? "+08:00" : "Z"}` : undefined);

export default function Audit() {
  const q = useQuery();
  const filters = {
    entity_type: q.get("entity_type") || "",
    entity_id: q.get("entity_id") || "",
    action: q.get("action") || "",
    since: q.get("since") || "",
    until: q.get("until") || "",
  };
  const key = JSON.stringify(filters);
  const [rows, setRows] = useState(null);
  const [cursor, setCursor] = useState(null);
  const [open, setOpen] = useState(null);
  const [run, busy, msg] = useAction();
  useEffect(() => setTitle("审计日志"), []);
  const query = (next) => ({
    entity_type: filters.entity_type || undefined,
    entity_id: filters.entity_id || undefined,
    action: filters.action || undefined,
    since: dayStart(filters.since),
    until: filters.until ? dayStart(nextDay(filters.until)) : undefined,
    limit: 50,
    cursor: next || undefined,
  });
  useEffect(() => {
    setRows(null);
    run(() => get("/audit", query())).then((page) => page && (setRows(page.items), setCursor(page.next_cursor)));
  }, [key]);
  const more = () => run(() => get("/audit", query(cursor))).then((page) => page && (setRows([...rows, ...page.items]), setCursor(page.next_cursor)));
  const [draft, setDraft] = useState(filters);
  useEffect(() => setDraft(filters), [key]);
  const apply = (e) => (e.preventDefault(), setQuery(draft));
  return html`<section aria-labelledby="au-title">
    <h1 id="au-title">审计日志</h1>
    <form class="panel" onSubmit=${apply} aria-label="筛选审计日志" id="audit-filter">
      <div class="field inline">
        <label for="au-entity">对象</label>
        <select id="au-entity" value=${draft.entity_type} onChange=${(e) => setDraft({ ...draft, entity_type: e.target.value })}>
          ${Object.entries(ENTITIES).map(([k, v]) => html`<option value=${k}>${v}</option>`)}
        </select>
        <label for="au-id">编号</label><input id="au-id" size="6" value=${draft.entity_id} onInput=${(e) => setDraft({ ...draft, entity_id: e.target.value })} />
        <label for="au-action">动作</label><input id="au-action" placeholder="如 assignment. 或 report.approve" value=${draft.action} onInput=${(e) => setDraft({ ...draft, action: e.target.value })} />
        <label for="au-since">从</label><${DateField} id="au-since" label="起始日期" value=${draft.since} onChange=${(v) => setDraft({ ...draft, since: v })} />
        <label for="au-until">至</label><${DateField} id="au-until" label="截止日期" value=${draft.until} onChange=${(v) => setDraft({ ...draft, until: v })} />
        <button type="submit" class="primary">筛选</button>
      </div>
    </form>
    <${Msg} msg=${msg && !msg.ok ? msg : null} />
    ${rows === null ? html`<${Loading} />` : rows.length === 0 ? html`<${Empty}>没有符合条件的记录</${Empty}>` : null}
    ${rows && rows.length
      ? html`<table class="list" id="audit-table">
          <caption class="sr-only">审计记录，最新在前</caption>
          <thead><tr><th scope="col">时间</th><th scope="col">操作人</th><th scope="col">动作</th><th scope="col">对象</th><th scope="col">详情</th></tr></thead>
          <tbody>${rows.map(
            (r) => html`<tr data-audit=${r.id}>
              <td data-label="时间"><time datetime=${r.at}>${fmtTime(r.at)}</time></td>
              <td data-label="操作人">${r.actor_name || "系统"}</td>
              <td data-label="动作"><code>${r.action}</code></td>
              <td data-label="对象">${ENTITIES[r.entity_type] || r.entity_type} #${r.entity_id}</td>
              <td data-label="详情"><button type="button" class="link" aria-expanded=${open === r.id} onClick=${() => setOpen(open === r.id ? null : r.id)}>${open === r.id ? "收起" : "查看"}</button>
                ${open === r.id ? html`<${Detail} r=${r} />` : null}</td>
            </tr>`,
          )}</tbody>
        </table>
        ${cursor ? html`<button type="button" onClick=${more} disabled=${busy}>加载更多</button>` : html`<p class="muted small">已到最早一条</p>`}`
      : null}
  </section>`;
}

function nextDay(d) {
  const t = new Date(d + "T00:00:00Z");
  t.setUTCDate(t.getUTCDate() + 1);
  return t.toISOString().slice(0, 10);
}

function Detail({ r }) {
  const keys = [...new Set([...Object.keys(r.before || {}), ...Object.keys(r.after || {})])];
  const show = (v) => (v === undefined ? "—" : typeof v === "object" && v !== null ? JSON.stringify(v) : String(v));
  return html`<div class="audit-detail">
    ${keys.length
      ? html`<table class="list"><thead><tr><th scope="col">字段</th><th scope="col">之前</th><th scope="col">之后</th></tr></thead>
          <tbody>${keys.map(
            (k) => html`<tr><td data-label="字段"><code>${k}</code></td><td data-label="之前">${show((r.before || {})[k])}</td><td data-label="之后">${show((r.after || {})[k])}</td></tr>`,
          )}</tbody></table>`
      : html`<p class="muted">无字段变化</p>`}
    <p class="muted small">请求 ${r.request_id || "—"} · 哈希 <code>${r.hash.slice(0, 12)}</code>（前一条 <code>${r.prev_hash.slice(0, 12)}</code>）</p>
  </div>`;
}
