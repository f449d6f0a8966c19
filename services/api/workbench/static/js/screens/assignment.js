// One assignment: its facts and history; the actions the API allows this user (accept, return,
// request completion, office review, reassign); progress reports with attachments; extension
// requests; and the 批示 on it with the unit's replies.
import {
  html,
  useState,
  useEffect,
  useRef,
  useLoad,
  useAction,
  Msg,
  Failure,
  Loading,
  Empty,
  StateTag,
  ROLE_LABELS,
  REPORT_STATE_LABELS,
  REQUEST_STATE_LABELS,
  ACTION_LABELS,
  STATE_LABELS,
  COMPARATOR_LABELS,
  dueText,
  fmtDate,
  fmtTime,
  fmtSize,
  isOffice,
  isUnit,
  hasRole,
  setTitle,
  setZone,
  Dialog,
} from "../lib.js";
import { get, post, patch, all, upload, download, ifMatch } from "../api.js";
import { DateField } from "../datefield.js";

async function load(id) {
  const a = await get(`/assignments/${id}`);
  setZone(a.timezone); // its plan's zone: every time on this screen is read on the plan's clock
  const [list, extensions, instructions, indicators, comments] = await Promise.all([
    all("/reports", { assignment_id: id }),
    all("/extension-requests", { assignment_id: id }),
    all("/instructions", { task_id: a.task_id }),
    all("/indicators", { task_id: a.task_id }),
    all(`/assignments/${id}/comments`),
  ]);
  const mine = instructions.filter((i) => i.assignment_id === a.id || (!i.assignment_id && i.unit_ids.includes(a.unit_id)));
  // Each report with its text and attachments, loaded with the list: a list item never shows up
  // half-filled (its attachments arriving later), and a reload swaps the whole list at once.
  const [reports, details] = await Promise.all([
    Promise.all(list.map((r) => get(`/reports/${r.id}`))),
    Promise.all(mine.map((i) => get(`/instructions/${i.id}`))),
  ]);
  return { a, reports, extensions, instructions: details, indicators, comments };
}

export default function Assignment({ user, params: [id] }) {
  const [data, error, reload] = useLoad(() => load(id), [id]);
  useEffect(() => data && setTitle(`${data.a.task_code}. ${data.a.task_title}`), [data]);
  if (error) return html`<${Failure} error=${error} onRetry=${reload} />`;
  if (!data) return html`<${Loading} />`;
  const { a } = data;
  const unitSide = isUnit(user) && user.unit_id === a.unit_id;
  return html`<article aria-labelledby="a-title" class="assignment" data-state=${a.state}>
    <p class="crumbs"><a href=${isUnit(user) ? "/app/tasks" : "/app/breakdown"}>${isUnit(user) ? "我的待办" : "任务分解表"}</a> › ${a.plan_title}</p>
    <div class="head">
      <h1 id="a-title">${a.task_code}. ${a.task_title}</h1>
      <${StateTag} a=${a} />
    </div>
    <dl class="facts">
      <div><dt>责任单位</dt><dd>${a.unit_name}（${ROLE_LABELS[a.role] || a.role}）</dd></div>
      <div><dt>截止日期</dt><dd>${fmtDate(a.due_date)}${a.original_due_date && a.original_due_date !== a.due_date ? html` <small>（原 ${fmtDate(a.original_due_date)}）</small>` : null}</dd></div>
      <div><dt>时限</dt><dd id="due-text" class=${a.overdue ? "red-text" : ""}>${dueText(a)}</dd></div>
      <div><dt>进度</dt><dd><progress max="100" value=${a.percent_done} aria-label="完成进度"></progress> ${a.percent_done}%</dd></div>
      ${a.period && a.period !== "all" ? html`<div><dt>周期</dt><dd>${a.period}</dd></div>` : null}
      ${a.last_reason ? html`<div><dt>最近说明</dt><dd>${a.last_reason}</dd></div>` : null}
    </dl>
    <${Actions} a=${a} onDone=${reload} />
    <${Instructions} data=${data} user=${user} unitSide=${unitSide} onDone=${reload} />
    <${Reports} data=${data} user=${user} unitSide=${unitSide} onDone=${reload} />
    <${Extensions} data=${data} user=${user} unitSide=${unitSide} onDone=${reload} />
    <${Comments} data=${data} user=${user} onDone=${reload} />
    <${History} a=${a} />
  </article>`;
}

// --- state actions: exactly what the API lists in allowed_actions ---
const NEEDS_REASON = new Set(["return", "reject", "cancel"]);
const ORDER = ["accept", "return", "request_completion", "approve", "reject", "reassign", "cancel"];

function Actions({ a, onDone }) {
  const [open, setOpen] = useState(null);
  const [reason, setReason] = useState("");
  const [unitId, setUnitId] = useState("");
  const [due, setDue] = useState("");
  const [run, busy, msg] = useAction();
  const [units] = useLoad(() => (open === "reassign" ? all("/units", { is_active: true }) : Promise.resolve(null)), [open]);
  // The API names what this user may do now (already filtered by role and unit).
  const allowed = a.allowed_actions.map((x) => x.replace(/-/g, "_"));
  const actions = ORDER.filter((x) => allowed.includes(x));
  if (actions.length === 0) return msg ? html`<${Msg} msg=${msg} onRefresh=${onDone} />` : null;
  const act = async (action) => {
    const body = action === "reassign" ? { unit_id: unitId ? Number(unitId) : null, due_date: due || null, reason: reason || null } : { reason: reason || null };
    const out = await run(() => post(`/assignments/${a.id}/${action.replace(/_/g, "-")}`, body, ifMatch("assignment", a)), `已${ACTION_LABELS[action]}`);
    if (out) {
      setOpen(null);
      setReason("");
      onDone();
    }
  };
  const label = (action) => (action === "reassign" && a.state === "returned" ? "重新交办" : ACTION_LABELS[action] || action);
  const form = open
    ? html`<form class="panel" onSubmit=${(e) => (e.preventDefault(), act(open))} aria-label=${label(open)}>
        ${open === "reassign"
          ? html`<div class="field"><label for="reassign-unit">改派单位（不选则原单位坚持交办）</label>
                <select id="reassign-unit" value=${unitId} onChange=${(e) => setUnitId(e.target.value)}>
                  <option value="">（原单位）</option>
                  ${(units || []).map((u) => html`<option value=${u.id}>${u.name}</option>`)}
                </select></div>
              <div class="field"><label for="reassign-due">新截止日期（可不填）</label><${DateField} id="reassign-due" label="新截止日期" value=${due} onChange=${setDue} /></div>`
          : null}
        <div class="field">
          <label for="action-reason">${NEEDS_REASON.has(open) ? "理由（必填）" : "说明（可不填）"}</label>
          <textarea id="action-reason" rows="3" required=${NEEDS_REASON.has(open)} value=${reason} onInput=${(e) => setReason(e.target.value)}></textarea>
        </div>
        <div class="buttons">
          <button type="submit" class="primary" id="confirm-action" disabled=${busy}>确认${label(open)}</button>
          <button type="button" onClick=${() => setOpen(null)}>取消</button>
        </div>
      </form>`
    : null;
  return html`<section class="actions-bar" aria-label="办理">
    <div class="buttons">
      ${actions.map(
        (action) => html`<button type="button" class=${action === "accept" || action === "approve" ? "primary" : ""} data-action=${action}
          disabled=${busy} onClick=${() => (action === "accept" ? act("accept") : (setOpen(action), setReason("")))}>${label(action)}</button>`,
      )}
    </div>
    ${form}
    <${Msg} msg=${msg} onRefresh=${onDone} />
  </section>`;
}

// --- progress reports ---
function Reports({ data, user, unitSide, onDone }) {
  const { a, reports, indicators } = data;
  const editable = reports.find((r) => r.state === "draft" || r.state === "rejected");
  const formShown = unitSide && a.state === "accepted";
  // The report being edited lives in the form (which refreshes its attachments after each upload);
  // the list shows the others, whose content can no longer change.
  const listed = formShown && editable ? reports.filter((r) => r !== editable) : reports;
  return html`<section aria-labelledby="reports-title">
    <h2 id="reports-title">进展报告</h2>
    ${listed.length === 0 && !(formShown && editable) ? html`<${Empty}>尚无进展报告</${Empty}>` : null}
    <ul class="reports">
      ${listed.map((r) => html`<${ReportItem} key=${r.id + ":" + r.version} r=${r} user=${user} onDone=${onDone} />`)}
    </ul>
    ${formShown
      ? html`<${ReportForm} key=${editable ? editable.id + ":" + editable.version : "new"} a=${a} report=${editable} indicators=${indicators} onDone=${onDone} />`
      : unitSide && a.state === "assigned"
        ? html`<p class="muted">签收后即可填报进展。</p>`
        : null}
  </section>`;
}

function ReportItem({ r, user, onDone }) {
  const [reason, setReason] = useState("");
  const [run, busy, msg] = useAction();
  const review = async (verb) => {
    const out = await run(() => post(`/reports/${r.id}/${verb}`, { reason: reason || null }), verb === "approve" ? "已通过" : "已退回");
    if (out) onDone();
  };
  return html`<li class="report" data-report=${r.id} data-state=${r.state}>
    <div class="row"><strong>${r.period}</strong> <span class="tag">${REPORT_STATE_LABELS[r.state]}</span> <span>${r.percent_done}%</span>
      <span class="muted small">${r.submitted_at ? "提交于 " + fmtTime(r.submitted_at) : "更新于 " + fmtTime(r.updated_at)}</span></div>
    ${r.text ? html`<p class="text">${r.text}</p>` : null}
    ${r.attachments && r.attachments.length
      ? html`<ul class="files">${r.attachments.map(
          (f) => html`<li><button type="button" class="link" onClick=${() => download(`/attachments/${f.id}`, f.filename)}>${f.filename}</button> <small>${fmtSize(f.size)}</small></li>`,
        )}</ul>`
      : null}
    ${r.review_comment ? html`<p class="muted">审核意见：${r.review_comment}</p>` : null}
    ${isOffice(user) && r.state === "submitted"
      ? html`<div class="review">
          <label class="sr-only" for=${`review-${r.id}`}>审核意见</label>
          <input id=${`review-${r.id}`} placeholder="审核意见（退回时必填）" value=${reason} onInput=${(e) => setReason(e.target.value)} />
          <button type="button" class="primary" data-review="approve" disabled=${busy} onClick=${() => review("approve")}>通过</button>
          <button type="button" data-review="reject" disabled=${busy} onClick=${() => review("reject")}>退回</button>
        </div>`
      : null}
    <${Msg} msg=${msg} onRefresh=${onDone} />
  </li>`;
}

function ReportForm({ a, report, indicators, onDone }) {
  // `report` is the draft or rejected report in full (text, values, attachments), or none yet.
  const [text, setText] = useState(report ? report.text : "");
  const [percent, setPercent] = useState(report ? report.percent_done : a.percent_done);
  const [values, setValues] = useState(() =>
    Object.fromEntries(((report && report.indicator_values) || []).map((iv) => [iv.indicator_id, String(iv.value)])),
  );
  const [current, setCurrent] = useState(report || null);
  const [files, setFiles] = useState([]); // {name, size, progress, error, done}
  const [drag, setDrag] = useState(false);
  const [run, busy, msg, setMsg] = useAction();
  const picker = useRef(null);

  const body = () => ({
    text,
    percent_done: Number(percent),
    indicator_values: Object.entries(values)
      .filter(([, v]) => v !== "" && v !== undefined)
      .map(([id, v]) => ({ indicator_id: Number(id), value: Number(v) })),
  });
  const save = async () => {
    if (current) {
      const out = await patch(`/reports/${current.id}`, body(), ifMatch("report", current));
      setCurrent(out);
      return out;
    }
    const out = await post(`/assignments/${a.id}/reports`, body());
    setCurrent(out);
    return out;
  };
  const saveDraft = async () => {
    const out = await run(save, "草稿已保存");
    return out;
  };
  const submit = async (e) => {
    e.preventDefault();
    const out = await run(async () => {
      const saved = await save();
      return post(`/reports/${saved.id}/submit`);
    }, "进展已提交，等待办公室审核");
    // The form made the draft itself (no draft when the page loaded): its key does not change on the
    // reload, so it empties itself for the next period's report rather than show the sent one as a draft.
    if (out) (setCurrent(null), setText(""), setValues({}), setFiles([]), onDone());
  };
  const addFiles = async (list) => {
    const chosen = Array.from(list || []);
    if (!chosen.length) return;
    let target = current;
    if (!target) {
      target = await run(save); // attachments hang on a report: save the draft first
      if (!target) return;
      setMsg({ ok: true, text: "已自动保存草稿以便上传附件" });
    }
    for (const file of chosen) {
      const key = `${Date.now()}-${Math.random()}`;
      const set = (p) => setFiles((fs) => fs.map((f) => (f.key === key ? { ...f, ...p } : f)));
      setFiles((fs) => [...fs, { key, name: file.name, size: file.size, progress: 0, error: null, done: false }]);
      try {
        await upload(`/reports/${target.id}/attachments`, file, (p) => set({ progress: p }));
        set({ progress: 1, done: true });
      } catch (err) {
        set({ error: err.text || err.message });
      }
    }
    const fresh = await get(`/reports/${target.id}`);
    setCurrent(fresh);
  };
  return html`<form class="panel" id="report-form" onSubmit=${submit} aria-labelledby="report-form-title">
    <h3 id="report-form-title">${current ? `填报进展（${current.period}，${REPORT_STATE_LABELS[current.state]}）` : "填报本期进展"}</h3>
    ${current && current.state === "rejected" && current.review_comment ? html`<p class="msg error">退回理由：${current.review_comment}</p>` : null}
    <div class="field">
      <label for="report-text">进展情况</label>
      <textarea id="report-text" rows="5" value=${text} onInput=${(e) => setText(e.target.value)}></textarea>
    </div>
    <div class="field">
      <label for="report-percent">完成进度（%）</label>
      <input id="report-percent" type="number" min="0" max="100" step="1" value=${percent} onInput=${(e) => setPercent(e.target.value)} />
    </div>
    ${indicators.length
      ? html`<fieldset><legend>本期指标值</legend>
          ${indicators.map(
            (ind) => html`<div class="field inline">
              <label for=${`ind-${ind.id}`}>${ind.name}${ind.unit ? `（${ind.unit}）` : ""}${ind.target_value !== null ? html` <small>目标 ${COMPARATOR_LABELS[ind.comparator] || ind.comparator || ""} ${ind.target_value}</small>` : null}</label>
              <input id=${`ind-${ind.id}`} type="number" step="any" value=${values[ind.id] || ""} onInput=${(e) => setValues({ ...values, [ind.id]: e.target.value })} />
            </div>`,
          )}
        </fieldset>`
      : null}
    <div class=${"drop" + (drag ? " over" : "")} id="dropzone"
      onDragOver=${(e) => (e.preventDefault(), setDrag(true))} onDragLeave=${() => setDrag(false)}
      onDrop=${(e) => (e.preventDefault(), setDrag(false), addFiles(e.dataTransfer.files))}>
      <p>将附件拖到此处，或 <button type="button" class="link" onClick=${() => picker.current.click()}>选择文件</button></p>
      <label class="sr-only" for="report-files">选择附件</label>
      <input id="report-files" ref=${picker} type="file" multiple class="visually-hidden" onChange=${(e) => (addFiles(e.target.files), (e.target.value = ""))} />
    </div>
    ${current && current.attachments && current.attachments.length
      ? html`<ul class="files" id="report-attachments">${current.attachments.map((f) => html`<li>${f.filename} <small>${fmtSize(f.size)}</small></li>`)}</ul>`
      : null}
    ${files.length
      ? html`<ul class="uploads" aria-live="polite">${files.map(
          (f) => html`<li key=${f.key} class=${f.error ? "error" : f.done ? "done" : ""}>${f.name}
            <progress max="1" value=${f.progress} aria-label=${`${f.name} 上传进度`}></progress>
            ${f.error ? html`<span role="alert">${f.error}</span>` : f.done ? "已上传" : `${Math.round(f.progress * 100)}%`}</li>`,
        )}</ul>`
      : null}
    <div class="buttons">
      <button type="button" id="save-draft" disabled=${busy} onClick=${saveDraft}>保存草稿</button>
      <button type="submit" class="primary" id="submit-report" disabled=${busy}>提交</button>
    </div>
    <${Msg} msg=${msg} onRefresh=${onDone} />
  </form>`;
}

// --- extension requests ---
function Extensions({ data, user, unitSide, onDone }) {
  const { a, extensions } = data;
  const [open, setOpen] = useState(false);
  const [date, setDate] = useState("");
  const [reason, setReason] = useState("");
  const [rejecting, setRejecting] = useState(null);
  const [run, busy, msg] = useAction();
  const pending = extensions.some((x) => x.state === "pending");
  const canAsk = unitSide && hasRole(user, "unit_head") && ["assigned", "accepted"].includes(a.state) && !pending;
  const ask = async (e) => {
    e.preventDefault();
    const out = await run(() => post(`/assignments/${a.id}/extension-requests`, { requested_due_date: date, reason }), "延期申请已提交");
    if (out) (setOpen(false), onDone());
  };
  const decide = async (x, verb, comment) => {
    const out = await run(() => post(`/extension-requests/${x.id}/${verb}`, { comment: comment || null }), verb === "approve" ? "已批准延期" : "已驳回延期");
    if (out) onDone();
  };
  if (!extensions.length && !canAsk) return null;
  return html`<section aria-labelledby="ext-title">
    <h2 id="ext-title">延期申请</h2>
    <ul class="plain">
      ${extensions.map(
        (x) => html`<li data-extension=${x.id}>申请延至 <strong>${fmtDate(x.requested_due_date)}</strong>（原 ${fmtDate(x.previous_due_date)}）：${x.reason}
          <span class="tag">${REQUEST_STATE_LABELS[x.state]}</span>${x.decision_comment ? ` 意见：${x.decision_comment}` : ""}
          ${isOffice(user) && x.state === "pending"
            ? html` <button type="button" class="primary" onClick=${() => decide(x, "approve")}>批准</button>
                <button type="button" data-reject-extension=${x.id} onClick=${() => setRejecting(x)}>驳回</button>`
            : null}</li>`,
      )}
    </ul>
    ${canAsk && !open ? html`<button type="button" id="ask-extension" onClick=${() => setOpen(true)}>申请延期</button>` : null}
    ${open
      ? html`<form class="panel" onSubmit=${ask} aria-label="申请延期">
          <div class="field"><label for="ext-date">申请延至</label><${DateField} id="ext-date" label="申请延至" required value=${date} onChange=${setDate} /></div>
          <div class="field"><label for="ext-reason">理由</label><textarea id="ext-reason" rows="3" required value=${reason} onInput=${(e) => setReason(e.target.value)}></textarea></div>
          <div class="buttons"><button type="submit" class="primary" disabled=${busy}>提交申请</button><button type="button" onClick=${() => setOpen(false)}>取消</button></div>
        </form>`
      : null}
    ${rejecting
      ? html`<${Dialog} title="驳回延期申请" label="确认驳回" field="驳回理由"
          onClose=${(reason) => (setRejecting(null), reason && decide(rejecting, "reject", reason))}>
          <p>申请延至 ${fmtDate(rejecting.requested_due_date)}：${rejecting.reason}</p>
        </${Dialog}>`
      : null}
    <${Msg} msg=${msg} onRefresh=${onDone} />
  </section>`;
}

// --- comments (交流): anyone who can see the assignment ---
function Comments({ data, user, onDone }) {
  const { a, comments } = data;
  const [text, setText] = useState("");
  const [run, busy, msg] = useAction();
  const canWrite = hasRole(user, "office", "leader", "admin", "unit_head", "unit_staff");
  const add = async (e) => {
    e.preventDefault();
    const out = await run(() => post(`/assignments/${a.id}/comments`, { text }), "已发表");
    if (out) (setText(""), onDone());
  };
  return html`<section aria-labelledby="cm-title">
    <h2 id="cm-title">交流意见</h2>
    ${comments.length === 0 ? html`<${Empty}>尚无意见</${Empty}>` : null}
    <ul class="plain comments" id="comments">
      ${comments.map(
        (c) => html`<li data-comment=${c.id}><span>${c.text}</span>
          <small class="muted"> · ${c.author_name || "—"}${c.author_unit_name ? `（${c.author_unit_name}）` : ""} · <time datetime=${c.created_at}>${fmtTime(c.created_at)}</time></small></li>`,
      )}
    </ul>
    ${canWrite
      ? html`<form class="inline-form" id="comment-form" onSubmit=${add} aria-label="发表意见">
          <label class="sr-only" for="comment-text">意见</label>
          <input id="comment-text" placeholder="写下意见，办理双方都能看到" required maxlength="5000" value=${text} onInput=${(e) => setText(e.target.value)} />
          <button type="submit" disabled=${busy}>发表</button>
        </form>`
      : null}
    <${Msg} msg=${msg} onRefresh=${onDone} />
  </section>`;
}

// --- 批示 and replies ---
function Instructions({ data, user, unitSide, onDone }) {
  const { a, instructions } = data;
  const [text, setText] = useState("");
  const [replyDue, setReplyDue] = useState("");
  const [run, busy, msg] = useAction();
  const canIssue = hasRole(user, "leader");
  const issue = async (e) => {
    e.preventDefault();
    const out = await run(() => post(`/tasks/${a.task_id}/instructions`, { text, assignment_id: a.id, reply_due_date: replyDue || null }), "批示已发出");
    if (out) (setText(""), onDone());
  };
  if (!instructions.length && !canIssue) return null;
  return html`<section aria-labelledby="ins-title">
    <h2 id="ins-title">领导批示</h2>
    ${instructions.length === 0 ? html`<${Empty}>尚无批示</${Empty}>` : null}
    <ul class="plain">
      ${instructions.map((i) => html`<${InstructionItem} key=${i.id} i=${i} a=${a} unitSide=${unitSide} onDone=${onDone} />`)}
    </ul>
    ${canIssue
      ? html`<form class="panel" id="instruction-form" onSubmit=${issue} aria-label="作出批示">
          <div class="field"><label for="instruction-text">批示内容</label><textarea id="instruction-text" rows="3" required value=${text} onInput=${(e) => setText(e.target.value)}></textarea></div>
          <div class="field"><label for="instruction-due">回复期限（可不填）</label><${DateField} id="instruction-due" label="回复期限" value=${replyDue} onChange=${setReplyDue} /></div>
          <button type="submit" class="primary" disabled=${busy}>发出批示</button>
        </form>`
      : null}
    <${Msg} msg=${msg} onRefresh=${onDone} />
  </section>`;
}

function InstructionItem({ i, a, unitSide, onDone }) {
  const [text, setText] = useState("");
  const [run, busy, msg] = useAction();
  const pending = i.pending_unit_ids.includes(a.unit_id);
  const reply = async (e) => {
    e.preventDefault();
    const out = await run(() => post(`/instructions/${i.id}/replies`, { text }), "已回复");
    if (out) (setText(""), onDone());
  };
  return html`<li class="instruction" data-instruction=${i.id}>
    <blockquote>${i.text}</blockquote>
    <p class="muted small">${fmtTime(i.created_at)}${i.reply_due_date ? ` · 请于 ${fmtDate(i.reply_due_date)} 前回复` : ""} · ${pending ? "待回复" : "已回复"}</p>
    ${i.replies.filter((r) => r.unit_id === a.unit_id).map((r) => html`<p class="reply">回复：${r.text} <small class="muted">${fmtTime(r.created_at)}</small></p>`)}
    ${unitSide
      ? html`<form class="inline-form" onSubmit=${reply}>
          <label class="sr-only" for=${`reply-${i.id}`}>回复批示</label>
          <input id=${`reply-${i.id}`} placeholder="回复批示" required value=${text} onInput=${(e) => setText(e.target.value)} />
          <button type="submit" disabled=${busy}>回复</button>
        </form>`
      : null}
    <${Msg} msg=${msg} onRefresh=${onDone} />
  </li>`;
}

// --- history ---
const HISTORY_LABELS = { "assignment.assign": "交办", "assignment.create": "交办", "assignment.extend": "延期", "assignment.progress": "更新进度" };
function History({ a }) {
  return html`<section aria-labelledby="hist-title">
    <h2 id="hist-title">办理记录</h2>
    <ol class="history" id="history">
      ${a.history.map(
        (h) => html`<li>
          <time datetime=${h.at}>${fmtTime(h.at)}</time>
          <span>${h.actor_name || "系统"}</span>
          <span>${HISTORY_LABELS[h.action] || ACTION_LABELS[h.action.split(".").pop().replace(/-/g, "_")] || h.action}</span>
          ${h.from_state || h.to_state ? html`<span class="muted">${STATE_LABELS[h.from_state] || h.from_state || ""} → ${STATE_LABELS[h.to_state] || h.to_state || ""}</span>` : null}
          ${h.reason ? html`<span>理由：${h.reason}</span>` : null}
        </li>`,
      )}
    </ol>
  </section>`;
}
