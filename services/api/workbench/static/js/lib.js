// Shared pieces for the screens: the html tag, hooks, labels in Chinese, formatting, small components.
import { h, Fragment, render } from "preact";
import { useState, useEffect, useCallback, useRef, useMemo } from "preact/hooks";
import htm from "htm";

export const html = htm.bind(h);
export { h, Fragment, render, useState, useEffect, useCallback, useRef, useMemo };

export const STATE_LABELS = {
  assigned: "待签收",
  accepted: "办理中",
  returned: "已退回",
  completion_requested: "待审核办结",
  completed: "已办结",
  cancelled: "已撤销",
};
// The states of an assignment still in hand (duban.models.OPEN_STATES).
export const OPEN_STATES = ["assigned", "accepted", "returned", "completion_requested"];
export const ROLE_LABELS = { lead: "牵头", co: "配合", implementing: "落实" };
export const REPORT_STATE_LABELS = { draft: "草稿", submitted: "待审核", approved: "已通过", rejected: "已退回" };
export const REQUEST_STATE_LABELS = { pending: "待审核", approved: "已批准", rejected: "已驳回" };
export const USER_ROLE_LABELS = {
  admin: "系统管理员",
  office: "领导小组办公室",
  leader: "领导",
  unit_head: "单位负责人",
  unit_staff: "单位经办人",
  viewer: "只读",
  service: "服务账号",
};
export const COMPARATOR_LABELS = { ">=": "≥", ">": "＞", "<=": "≤", "<": "＜", "==": "＝", "=": "＝" };
export const RAG_LABELS = { green: "绿灯", yellow: "黄灯", red: "红灯" };
export const ACTION_LABELS = {
  accept: "签收",
  return: "退回",
  request_completion: "申请办结",
  approve: "确认办结",
  reject: "驳回办结",
  reassign: "重新交办",
  cancel: "撤销",
  assign: "交办",
  insist: "坚持交办",
  extend: "延期",
};
export const UNIT_KIND_LABELS = {
  department: "部门",
  town: "镇",
  street: "街道",
  zone: "开发区",
  office: "办公室",
  leadership: "领导",
};

// Times are shown in the plan's zone (default Asia/Shanghai), never the browser's: a county's staff
// on a laptop set to another zone, or a server in UTC, still read the county's own clock.
export const DEFAULT_ZONE = "Asia/Shanghai";
let zone = DEFAULT_ZONE;
const formats = {};
function fmt(kind) {
  const key = kind + "|" + zone;
  if (!formats[key]) {
    const opts = { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" };
    if (kind === "time") Object.assign(opts, { hour: "2-digit", minute: "2-digit", hour12: false });
    formats[key] = new Intl.DateTimeFormat("zh-CN", opts);
  }
  return formats[key];
}
// A plan screen names its plan's zone; an unknown zone keeps the default.
export function setZone(tz) {
  try {
    new Intl.DateTimeFormat("zh-CN", { timeZone: tz || DEFAULT_ZONE });
    zone = tz || DEFAULT_ZONE;
  } catch {
    zone = DEFAULT_ZONE;
  }
}
export const getZone = () => zone;
// An instant from the API; one without an offset is UTC (as the API stores it), not browser-local.
export const instant = (t) => new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(t) || t.length <= 10 ? t : t + "Z");
export const fmtDate = (d) => (d ? (d.length === 10 ? d : fmt("date").format(instant(d))) : "—");
export const fmtTime = (t) => (t ? fmt("time").format(instant(t)) : "—");
// Today's date (YYYY-MM-DD) in the plan's zone: the default of date pickers and calendar ranges.
export function today(now = new Date()) {
  const parts = Object.fromEntries(fmt("date").formatToParts(now).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}`;
}
export const fmtSize = (n) => (n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1048576).toFixed(1)} MB`);

// "剩余 3 个工作日" / "今天到期" / "逾期 2 个工作日" from the API's derived fields.
export function dueText(a) {
  if (a.state === "completed") return "已办结";
  if (a.state === "cancelled") return "已撤销";
  if (a.overdue) return a.working_days_overdue > 0 ? `逾期 ${a.working_days_overdue} 个工作日` : "已逾期（不足1个工作日）";
  if (a.working_days_left === undefined || a.working_days_left === null) return a.due_date ? `截止 ${a.due_date}` : "无截止日期";
  return a.working_days_left === 0 ? "今天到期" : `剩余 ${a.working_days_left} 个工作日`;
}

export const hasRole = (user, ...roles) => !!user && user.roles.some((r) => roles.includes(r));
export const isOffice = (user) => hasRole(user, "office", "admin");
export const isUnit = (user) => hasRole(user, "unit_head", "unit_staff");
export const isLeader = (user) => hasRole(user, "leader", "viewer");

// Runs an async loader on mount and whenever deps change: [data, error, reload, setData, loading].
// While reloading the old data stays shown; `loading` says it may be stale (actions that send its
// version wait for the new one).
export function useLoad(loader, deps = []) {
  const [state, setState] = useState({ data: undefined, error: null, loading: true });
  const seq = useRef(0);
  const run = useCallback(() => {
    const mine = ++seq.current;
    setState((s) => ({ data: s.data, error: null, loading: true }));
    loader().then(
      (data) => mine === seq.current && setState({ data, error: null, loading: false }),
      (error) => mine === seq.current && setState({ data: null, error, loading: false }),
    );
  }, deps);
  useEffect(run, [run]);
  return [state.data, state.error, run, (data) => setState({ data, error: null, loading: false }), state.loading];
}

// Wraps an action: busy flag, the API's message on refusal, success text. [run, busy, msg]
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [msg, setMsg] = useState(null);
  const run = useCallback(async (fn, ok) => {
    setBusy(true);
    setMsg(null);
    try {
      const out = await fn();
      if (ok) setMsg({ ok: true, text: typeof ok === "function" ? ok(out) : ok });
      return out;
    } catch (err) {
      setMsg({ ok: false, text: err.text || err.message || String(err), conflict: !!err.conflict });
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  return [run, busy, msg, setMsg];
}

export function Msg({ msg, onRefresh }) {
  if (!msg) return null;
  if (msg.ok) return html`<p class="msg ok" role="status">${msg.text}</p>`;
  return html`<p class="msg error" role="alert">
    ${msg.text}${msg.conflict && onRefresh ? html` <button type="button" class="link" onClick=${onRefresh}>刷新</button>` : null}
  </p>`;
}

export function Failure({ error, onRetry }) {
  if (!error) return null;
  return html`<div class="msg error" role="alert">
    <p>${error.text || error.message}</p>
    ${onRetry ? html`<button type="button" onClick=${onRetry}>重试</button>` : null}
  </div>`;
}

export const Loading = ({ what = "正在加载…" }) => html`<p class="loading" role="status">${what}</p>`;

export function StateTag({ a }) {
  const cls = a.overdue ? "tag red" : a.state === "completed" ? "tag green" : a.state === "returned" ? "tag yellow" : "tag";
  return html`<span class=${cls}>${STATE_LABELS[a.state] || a.state}${a.overdue ? " · 逾期" : ""}</span>`;
}

export const RagDot = ({ rag }) => html`<span class=${"rag " + rag} title=${RAG_LABELS[rag] || rag}><span class="sr-only">${RAG_LABELS[rag] || rag}</span></span>`;

// A labelled field: the label is tied to its control for screen readers and clicks.
let fieldSeq = 0;
export function Field({ label, hint, children, id }) {
  const fid = useMemo(() => id || `f${++fieldSeq}`, [id]);
  const child = Array.isArray(children) ? children[0] : children;
  if (child && child.props && !child.props.id) child.props.id = fid;
  return html`<div class="field">
    <label for=${(child && child.props && child.props.id) || fid}>${label}</label>
    ${children}
    ${hint ? html`<small class="hint">${hint}</small>` : null}
  </div>`;
}

export const Empty = ({ children }) => html`<p class="empty">${children}</p>`;

export function setTitle(text) {
  document.title = text ? `${text} · 督办工作台` : "督办工作台";
}

// A modal dialog (the native <dialog>: focus moves in and stays, Esc cancels, focus returns after).
// onClose(value) gets the submitted value, or null when cancelled.
export function Dialog({ title, label = "确定", required = true, field = "理由", onClose, children }) {
  const ref = useRef(null);
  const [text, setText] = useState("");
  const opener = useRef(typeof document !== "undefined" ? document.activeElement : null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    return () => {
      // Closed before focusing: while a modal dialog is open everything outside it is inert.
      if (d && d.open) d.close();
      if (opener.current && opener.current.isConnected && opener.current.focus) opener.current.focus();
    };
  }, []);
  const id = useMemo(() => `dlg${++fieldSeq}`, []);
  return html`<dialog ref=${ref} class="dialog" aria-labelledby=${id + "-t"} onCancel=${(e) => (e.preventDefault(), onClose(null))}>
    <form method="dialog" onSubmit=${(e) => (e.preventDefault(), onClose(text.trim()))}>
      <h2 id=${id + "-t"}>${title}</h2>
      ${children}
      ${field
        ? html`<div class="field"><label for=${id + "-f"}>${field}${required ? "（必填）" : ""}</label>
            <textarea id=${id + "-f"} rows="3" required=${required} value=${text} onInput=${(e) => setText(e.target.value)}></textarea></div>`
        : null}
      <div class="buttons">
        <button type="submit" class="primary">${label}</button>
        <button type="button" onClick=${() => onClose(null)}>取消</button>
      </div>
    </form>
  </dialog>`;
}
