// 计划导入: upload a plan document, preview what was recognised (with the importer's warnings), import it
// as a draft; then, on the draft, say which unit each unconfirmed name means (a suggestion or a new
// unit), fix the dates (shift them all, or one task's), and 交办 (publish): every unit is told once.
import { html, useState, useEffect, useRef, useLoad, useAction, Msg, Failure, Loading, Dialog, ROLE_LABELS, fmtSize, fmtTime, setTitle } from "../lib.js";
import { upload, post, patch, get, all, del, ifMatch } from "../api.js";
import { useQuery, navigate } from "../nav.js";
import { DateField } from "../datefield.js";

const ACCEPT = ".txt,.docx,.pdf,.xlsx,.json";

export default function Intake() {
  const q = useQuery();
  const draftId = Number(q.get("plan")) || null;
  useEffect(() => setTitle(draftId ? "计划草稿" : "计划导入"), [draftId]);
  return draftId ? html`<${Draft} key=${draftId} id=${draftId} />` : html`<${Upload} />`;
}

function Upload() {
  const [file, setFile] = useState(null);
  const [progress, setProgress] = useState(null);
  const [preview, setPreview] = useState(null);
  const [report, setReport] = useState(null);
  const [drag, setDrag] = useState(false);
  const [run, busy, msg] = useAction();
  const picker = useRef(null);
  const [drafts] = useLoad(() => get("/plans", { state: "draft", limit: 50 }).then((p) => p.items, () => []), []);

  const send = (dryRun) =>
    run(async () => {
      setProgress(0);
      try {
        return await upload("/plans/import", file, setProgress, { query: { dry_run: dryRun } });
      } finally {
        setProgress(null);
      }
    });
  const choose = async (f) => {
    if (!f) return;
    setFile(f);
    setPreview(null);
    setReport(null);
  };
  useEffect(() => {
    if (file) send(true).then((out) => out && setPreview(out));
  }, [file]);
  // What is imported is the previewed document (the plan interchange JSON), with the office's fixes.
  const recheck = async (doc) => {
    const out = await run(() => post("/plans/import", doc, { query: { dry_run: true } }), "已重新检查");
    if (out) setPreview(out);
  };
  const doImport = async (doc) => {
    const out = await run(() => post("/plans/import", doc));
    // A draft opens for checking and 交办; an installation that publishes on import shows the result.
    if (out && out.state === "draft") navigate(`/app/intake?plan=${out.plan_id}`);
    else if (out) setReport(out);
  };

  return html`<section aria-labelledby="intake-title">
    <h1 id="intake-title">计划导入</h1>
    <p class="muted">上传行动计划原文（.txt / .docx / .pdf）、任务分解表（.xlsx）或计划交换格式（.json）。先预览识别结果，导入为草稿；在草稿中确认责任单位和截止日期后再交办，交办前各单位看不到。</p>
    ${drafts && drafts.length
      ? html`<div class="panel" id="draft-list"><h2>未交办的草稿</h2><ul class="plain">${drafts.map(
          (p) => html`<li><a href=${`/app/intake?plan=${p.id}`}>${p.title}</a> <small class="muted">${p.doc_no || ""} · 导入于 ${fmtTime(p.created_at)}</small></li>`,
        )}</ul></div>`
      : null}
    <div class=${"drop" + (drag ? " over" : "")} id="intake-drop"
      onDragOver=${(e) => (e.preventDefault(), setDrag(true))} onDragLeave=${() => setDrag(false)}
      onDrop=${(e) => (e.preventDefault(), setDrag(false), choose(e.dataTransfer.files[0]))}>
      <p>将计划文件拖到此处，或 <button type="button" class="link" onClick=${() => picker.current.click()}>选择文件</button></p>
      <label class="sr-only" for="intake-file">选择计划文件</label>
      <input id="intake-file" ref=${picker} type="file" accept=${ACCEPT} class="visually-hidden" onChange=${(e) => (choose(e.target.files[0]), (e.target.value = ""))} />
      ${file ? html`<p><strong>${file.name}</strong> <small>${fmtSize(file.size)}</small></p>` : null}
    </div>
    ${progress !== null ? html`<p role="status">正在上传并识别… <progress max="1" value=${progress} aria-label="上传进度"></progress> ${Math.round(progress * 100)}%</p>` : null}
    <${Msg} msg=${msg} />
    ${report ? html`<${Imported} report=${report} />` : preview ? html`<${Preview} key=${JSON.stringify(preview.summary) + preview.warnings.length} preview=${preview} busy=${busy} onImport=${doImport} onRecheck=${recheck} />` : null}
  </section>`;
}

function Warnings({ warnings }) {
  if (!warnings.length) return html`<p class="msg ok">未发现需要人工核对的问题。</p>`;
  return html`<div class="panel" id="import-warnings">
    <h2>需要核对的问题（${warnings.length}）</h2>
    <ul>${warnings.map((w) => html`<li>${w.line ? html`<span class="muted">第 ${w.line} 行：</span>` : null}${w.message}${w.text ? html` <q>${w.text}</q>` : null}</li>`)}</ul>
  </div>`;
}

const UNIT_FIELDS = [
  ["lead_units", "牵头单位"],
  ["co_units", "配合单位"],
  ["implementing_units", "落实单位"],
];
const split = (text) => text.split(/[、，,;；\s]+/).map((x) => x.trim()).filter(Boolean);

function Preview({ preview, busy, onImport, onRecheck }) {
  const [doc, setDoc] = useState(() => JSON.parse(JSON.stringify(preview.document)));
  const [edited, setEdited] = useState(false);
  const s = preview.summary;
  const edit = (si, ti, field, value) => {
    const next = { ...doc, sections: doc.sections.map((sec, i) => (i !== si ? sec : { ...sec, tasks: sec.tasks.map((t, j) => (j !== ti ? t : { ...t, [field]: value })) })) };
    setDoc(next);
    setEdited(true);
  };
  return html`<div id="import-preview">
    <h2>识别结果：${s.title}</h2>
    <p>${s.sections} 个重点任务板块，${s.tasks} 项任务，${s.indicators} 个指标。可在下表中修正责任单位（用“、”分隔）和截止日期，再重新检查或直接导入。</p>
    <${Warnings} warnings=${preview.warnings} />
    <table class="list">
      <caption class="sr-only">识别出的任务</caption>
      <thead><tr><th scope="col">任务</th>${UNIT_FIELDS.map(([, label]) => html`<th scope="col">${label}</th>`)}<th scope="col">截止</th></tr></thead>
      <tbody>
        ${doc.sections.map(
          (sec, si) => html`<tr><th colspan="5" class="section" scope="rowgroup">（${sec.code}）${sec.title}</th></tr>
            ${sec.tasks.map(
              (t, ti) => html`<tr data-task-code=${t.code}>
                <td data-label="任务">${t.code}. ${t.title}</td>
                ${UNIT_FIELDS.map(
                  ([field, label]) => html`<td data-label=${label}>
                    <label class="sr-only" for=${`imp-${si}-${ti}-${field}`}>任务${t.code}${label}</label>
                    <input id=${`imp-${si}-${ti}-${field}`} class="cell" value=${(t[field] || []).join("、")} onChange=${(e) => edit(si, ti, field, split(e.target.value))} />
                  </td>`,
                )}
                <td data-label="截止">
                  <label class="sr-only" for=${`imp-${si}-${ti}-due`}>任务${t.code}截止日期</label>
                  <${DateField} id=${`imp-${si}-${ti}-due`} label=${`任务${t.code}截止日期`} value=${t.due || ""} onChange=${(v) => edit(si, ti, "due", v || null)} />
                  ${t.recurrence ? html`<small class="muted">（每期）</small>` : null}
                </td>
              </tr>`,
            )}`,
        )}
      </tbody>
    </table>
    <div class="buttons sticky">
      <button type="button" id="recheck-import" disabled=${busy || !edited} onClick=${() => onRecheck(doc)}>按修改重新检查</button>
      <button type="button" class="primary" id="do-import" disabled=${busy} onClick=${() => onImport(doc)}>导入为草稿</button>
    </div>
  </div>`;
}

function Imported({ report }) {
  return html`<div class="panel" id="import-done" role="status">
    <h2>已导入：${report.title}</h2>
    <p>${report.sections} 个板块、${report.tasks} 项任务、${report.indicators} 个指标，生成交办事项 ${report.assignments} 条。</p>
    ${report.units_created.length ? html`<p>新建单位：${report.units_created.join("、")}（请在「单位」中核对）</p>` : null}
    <${Warnings} warnings=${report.warnings} />
    <p><a href=${`/app/breakdown?plan=${report.plan_id}`}>查看任务分解表</a></p>
  </div>`;
}

// --- the draft: names, dates, 交办 ---------------------------------------------------------------

async function loadDraft(id) {
  const [plan, checks, tasks, indicators, units, groups, users] = await Promise.all([
    get(`/plans/${id}`),
    get(`/plans/${id}/checks`),
    all("/tasks", { plan_id: id }, 5000),
    all("/indicators", { plan_id: id }, 2000),
    all("/units", { is_active: true }, 2000),
    get("/unit-groups"),
    all("/users", { is_active: true }, 5000).catch(() => null),
  ]);
  // The units with someone to read their 交办 notice (null: this account may not list people).
  const staffed = users && new Set(users.map((u) => u.unit_id).filter(Boolean));
  return { plan, checks, tasks, indicators, units, groups, staffed };
}

const unitText = (u) => u.unit_name || u.group_name || u.label || "";

function Draft({ id }) {
  const [data, error, reload, , loading] = useLoad(() => loadDraft(id), [id]);
  const [done, setDone] = useState(null);
  const [editing, setEditing] = useState(null);
  if (error) return html`<${Failure} error=${error} onRetry=${reload} />`;
  if (!data) return html`<${Loading} />`;
  const { plan, checks, tasks, indicators, units, groups, staffed } = data;
  if (done || plan.state !== "draft") return html`<${Published} plan=${plan} result=${done} />`;
  const unresolved = new Set(checks.unresolved_units.map((u) => u.name));
  const sections = plan.sections || [];
  const bySection = (sid) => tasks.filter((t) => t.section_id === sid && !t.parent_id);
  const loose = tasks.filter((t) => !sections.some((s) => s.id === t.section_id) && !t.parent_id);
  const sub = (t) => tasks.filter((x) => x.parent_id === t.id);
  const ofTask = (t) => indicators.filter((i) => i.task_id === t.id);
  const row = (t, child) => [
    html`<${TaskRow} key=${t.id} t=${t} child=${child} unresolved=${unresolved} indicators=${ofTask(t)}
      open=${editing === t.id} onEdit=${() => setEditing(editing === t.id ? null : t.id)} onDone=${reload} />`,
    editing === t.id
      ? html`<tr key=${"edit-" + t.id} class="editor"><td colspan="4">
          <${TaskEditor} t=${t} plan=${plan} tasks=${tasks} units=${units} groups=${groups} indicators=${ofTask(t)} loose=${indicators.filter((i) => !i.task_id)} onDone=${reload} onClose=${() => setEditing(null)} />
        </td></tr>`
      : null,
  ];
  return html`<section aria-labelledby="draft-title" id="draft" data-plan=${plan.id}>
    <p class="crumbs"><a href="/app/intake">计划导入</a> › 草稿</p>
    <div class="head"><h1 id="draft-title">${plan.title}</h1><span class="tag yellow">草稿 · 未交办</span></div>
    <p id="draft-summary">${plan.doc_no ? `${plan.doc_no}，` : ""}${checks.tasks} 项任务，交办时将交办 ${checks.tasks_to_assign} 项${checks.past_deadlines ? html`，<strong class="red-text">${checks.past_deadlines} 项截止日期已过</strong>` : ""}。</p>
    ${checks.warnings.length
      ? html`<div class="panel" id="draft-warnings"><h2>需要核对的问题（${checks.warnings.length}）</h2>
          <ul>${checks.warnings.map((w) => html`<li>${w.message}${w.text ? html` <q>${w.text}</q>` : null}</li>`)}</ul></div>`
      : null}
    <${NoUsers} tasks=${tasks} staffed=${staffed} />
    <${Names} plan=${plan} names=${checks.unresolved_units} units=${units} onDone=${reload} />
    <${Shift} plan=${plan} past=${checks.past_deadlines} stale=${loading} onDone=${reload} />
    <h2>任务、责任单位、指标与截止日期</h2>
    <p class="muted small">点任务下的「编辑单位和指标」可调整牵头、配合单位，任务的量化目标和关联的指标；截止日期直接在表中修改（可输入或从日历选择）。</p>
    <table class="list" id="draft-tasks">
      <caption class="sr-only">草稿中的任务、责任单位、指标和截止日期</caption>
      <thead><tr><th scope="col">任务</th><th scope="col">责任单位</th><th scope="col">指标与目标</th><th scope="col">截止日期</th></tr></thead>
      <tbody>
        ${sections.map(
          (sec) => html`<tr><th colspan="4" class="section" scope="rowgroup">（${sec.code}）${sec.title}</th></tr>
            ${bySection(sec.id).map((t) => [row(t, false), ...sub(t).map((c) => row(c, true))])}`,
        )}
        ${loose.map((t) => [row(t, false), ...sub(t).map((c) => row(c, true))])}
      </tbody>
    </table>
    <${PlanIndicators} plan=${plan} tasks=${tasks} units=${units} indicators=${indicators} onDone=${reload} />
    <${Publish} plan=${plan} checks=${checks} stale=${loading} onPublished=${setDone} />
  </section>`;
}

// Units named in the draft that nobody can sign in for yet: their notice waits for no one (the tasks
// are in 我的待办 once an account exists). Units reached through a group are not counted here.
function NoUsers({ tasks, staffed }) {
  if (!staffed) return null;
  const named = new Map();
  for (const t of tasks) for (const u of t.units) if (u.unit_id && !staffed.has(u.unit_id)) named.set(u.unit_id, u.unit_name);
  if (!named.size) return null;
  const names = [...named.values()];
  return html`<div class="msg warn" id="draft-nousers" role="note">
    <p>${names.length} 个责任单位还没有账号，交办通知暂时无人接收：${names.slice(0, 30).join("、")}${names.length > 30 ? " 等" : ""}。</p>
    <p class="small">可先在「用户」中为各单位建好负责人账号再交办；之后建的账号也能在「我的待办」看到已交办的任务。</p>
  </div>`;
}

// Each name the importer could not match: pick one of its suggestions (or any unit), or create it.
function Names({ plan, names, units, onDone }) {
  if (!names.length) return html`<p class="msg ok" id="names-ok">所有责任单位均已确认。</p>`;
  return html`<div class="panel" id="draft-names">
    <h2>待确认的单位名称（${names.length}）</h2>
    <p class="muted small">文件中的写法与已有单位对不上。请指定对应的单位（会记为别名，下次导入自动识别），或新建单位。</p>
    <ul class="plain">${names.map((n) => html`<${NameRow} key=${n.name} plan=${plan} n=${n} units=${units} onDone=${onDone} />`)}</ul>
  </div>`;
}

function NameRow({ plan, n, units, onDone }) {
  const first = n.suggestions.length ? String(n.suggestions[0].unit_id) : "new";
  const [choice, setChoice] = useState(first);
  const [run, busy, msg] = useAction();
  const sid = `name-${btoa(unescape(encodeURIComponent(n.name))).replace(/[^A-Za-z0-9]/g, "")}`;
  const others = units.filter((u) => !n.suggestions.some((s) => s.unit_id === u.id));
  const confirm = async (e) => {
    e.preventDefault();
    const body = choice === "new" ? { name: n.name, create: true } : { name: n.name, unit_id: Number(choice) };
    const out = await run(() => post(`/plans/${plan.id}/unit-names`, body), (r) => (r.created ? `已新建单位「${r.unit_name}」` : `已指定为「${r.unit_name}」`));
    if (out) onDone();
  };
  return html`<li class="card" data-name=${n.name}>
    <form class="inline-form" onSubmit=${confirm}>
      <label for=${sid}>「${n.name}」<small class="muted">（任务 ${n.tasks.join("、")}）</small></label>
      <select id=${sid} value=${choice} onChange=${(e) => setChoice(e.target.value)}>
        ${n.suggestions.map((s) => html`<option value=${s.unit_id}>${s.name}${s.via_alias ? `（别名 ${s.via_alias}）` : ""} · 相似度 ${Math.round(s.score * 100)}%</option>`)}
        <option value="new">新建单位「${n.name}」</option>
        ${others.length ? html`<optgroup label="其他单位">${others.map((u) => html`<option value=${u.id}>${u.name}</option>`)}</optgroup>` : null}
      </select>
      <button type="submit" class="primary" disabled=${busy}>确认</button>
    </form>
    <${Msg} msg=${msg} />
  </li>`;
}

// Every date of the draft moved at once (a plan re-issued a year later, say).
function Shift({ plan, past, stale, onDone }) {
  const [years, setYears] = useState("0");
  const [months, setMonths] = useState("0");
  const [days, setDays] = useState("0");
  const [run, busy, msg] = useAction();
  const shift = async (e) => {
    e.preventDefault();
    const body = { years: Number(years) || 0, months: Number(months) || 0, days: Number(days) || 0 };
    const out = await run(() => post(`/plans/${plan.id}/shift-deadlines`, body, ifMatch("plan", plan)), (r) => `已顺延 ${r.tasks} 项任务、${r.targets} 个目标、${r.indicators} 个指标的日期`);
    if (out) onDone();
  };
  return html`<form class="panel" id="shift-form" onSubmit=${shift} aria-labelledby="shift-title">
    <h2 id="shift-title">整体调整日期</h2>
    <p class="muted small">${past ? `有 ${past} 项任务截止日期已过。` : ""}所有任务、目标、指标和计划期限一起前移或后移（负数为提前）。</p>
    <div class="field inline">
      <label for="shift-years">年</label><input id="shift-years" type="number" min="-20" max="20" step="1" value=${years} onInput=${(e) => setYears(e.target.value)} />
      <label for="shift-months">月</label><input id="shift-months" type="number" min="-240" max="240" step="1" value=${months} onInput=${(e) => setMonths(e.target.value)} />
      <label for="shift-days">日</label><input id="shift-days" type="number" min="-3650" max="3650" step="1" value=${days} onInput=${(e) => setDays(e.target.value)} />
      <button type="submit" disabled=${busy || stale || (!Number(years) && !Number(months) && !Number(days))}>整体调整</button>
    </div>
    <${Msg} msg=${msg} onRefresh=${onDone} />
  </form>`;
}

// Kept mounted across reloads (keyed by id, not version): focus stays where the keyboard left it.
function TaskRow({ t, child, unresolved, indicators, open, onEdit, onDone }) {
  const [run, , msg] = useAction();
  // Saves one after another, each with the version the previous one returned: a second date picked
  // before the draft has reloaded is not refused as someone else's change.
  const latest = useRef(t);
  const queue = useRef(Promise.resolve());
  if (t.version > latest.current.version) latest.current = t;
  const setDue = (value) =>
    (queue.current = queue.current.then(() =>
      run(() => patch(`/tasks/${t.id}`, { due_date: value || null }, ifMatch("task", latest.current)), "已保存").then((out) => {
        if (out) (latest.current = out), onDone();
      }),
    ));
  const pending = (u) => !u.unit_id && !u.group_id && unresolved.has((u.label || "").trim());
  return html`<tr data-task=${t.id} data-task-code=${t.code} class=${(child ? "subtask" : "") + (open ? " editing" : "")}>
    <td data-label="任务">${t.code}. ${t.title}
      <div><button type="button" class="link small" data-edit-task=${t.id} aria-expanded=${open ? "true" : "false"} onClick=${onEdit}>${open ? "收起" : "编辑单位和指标"}</button></div></td>
    <td data-label="责任单位"><ul class="units">${t.units.map(
      (u) => html`<li class=${pending(u) ? "red-text" : ""}>${ROLE_LABELS[u.role] || u.role}：${unitText(u)}${pending(u) ? "（待确认）" : ""}</li>`,
    )}${t.units.length === 0 ? html`<li class="muted">未指定</li>` : null}</ul></td>
    <td data-label="指标与目标"><ul class="units">
      ${indicators.map((i) => html`<li data-indicator=${i.id}>${indicatorText(i)}</li>`)}
      ${t.targets.map((g) => html`<li class="muted">目标：${targetText(g)}</li>`)}
      ${indicators.length + t.targets.length === 0 ? html`<li class="muted">—</li>` : null}
    </ul></td>
    <td data-label="截止日期">
      <label class="sr-only" for=${`due-${t.id}`}>任务${t.code}截止日期</label>
      <${DateField} id=${`due-${t.id}`} label=${`任务${t.code}截止日期`} value=${t.due_date || ""} onChange=${setDue} />
      ${t.recurrence ? html`<small class="muted">（每期）</small>` : null}
      <${Msg} msg=${msg && !msg.ok ? msg : null} onRefresh=${onDone} />
    </td>
  </tr>`;
}

const COMPARATORS = [">=", ">", "<=", "<", "=", "~"];
const CADENCES = { once: "到期一次", annual: "每年", quarterly: "每季度", monthly: "每月", weekly: "每周" };
const COMPARATOR_WORDS = { ">=": "不低于", ">": "高于", "<=": "不高于", "<": "低于", "=": "等于", "~": "左右" };
const num = (v) => (v === null || v === undefined ? "" : String(v));
function indicatorText(i) {
  const target = i.target_value === null || i.target_value === undefined ? "" : `${COMPARATOR_WORDS[i.comparator] || i.comparator} ${i.target_value}${i.unit || ""}`;
  return `${i.name}${target ? "：" + target : ""}${i.due_date ? `（${i.due_date}）` : ""}`;
}
// The text names the number already (新招引高科技项目50个); the value is shown only when it does not.
function targetText(g) {
  const has = g.value === null || g.value === undefined || g.text.includes(String(g.value));
  const value = has ? "" : `${COMPARATOR_WORDS[g.comparator || ">="] || ""} ${g.value}${g.unit || ""}`;
  return `${g.text}${value ? "，" + value : ""}${g.due_date ? `（${g.due_date}）` : ""}`;
}
const ROLE_ORDER = { lead: 0, co: 1, implementing: 2 };
// After a piece closes from the keyboard, focus goes back to what opened it, not to the page's top.
const refocus = (selector) => setTimeout(() => document.querySelector(selector)?.focus(), 0);
const fromTask = (t) => ({
  units: t.units.map((u) => ({ role: u.role, unit_id: u.unit_id, group_id: u.group_id, label: u.label, name: unitText(u) })),
  targets: t.targets.map(({ text, value, unit, comparator, due_date, cadence }) => ({ text, value, unit, comparator, due_date, cadence })),
});

// One task of the draft: its units (lead, co, implementing; any unit or group, in order) and its
// quantified targets saved together (PATCH /tasks/{id}, If-Match); its indicators each on their own.
function TaskEditor({ t, plan, tasks, units, groups, indicators, loose, onDone, onClose }) {
  const [base, setBase] = useState(t);
  const [form, setForm] = useState(() => fromTask(t));
  const [dirty, setDirty] = useState(false);
  const [role, setRole] = useState(t.units.some((u) => u.role === "lead") ? "co" : "lead");
  const [pick, setPick] = useState("");
  const [run, busy, msg, setMsg] = useAction();
  // A change made elsewhere (a unit name confirmed) shows here unless the office is editing.
  useEffect(() => {
    if (!dirty && t.version !== base.version) (setBase(t), setForm(fromTask(t)));
  }, [t.version]);
  const change = (next) => (setForm(next), setDirty(true), setMsg(null));
  const setUnit = (i, patchU) => change({ ...form, units: form.units.map((u, j) => (j === i ? { ...u, ...patchU } : u)) });
  const add = () => {
    if (!pick) return;
    const [kind, raw] = pick.split(":");
    const ref = Number(raw);
    const found = kind === "g" ? groups.find((g) => g.id === ref) : units.find((u) => u.id === ref);
    if (!found || form.units.some((u) => (kind === "g" ? u.group_id === ref : u.unit_id === ref))) return setPick("");
    change({ ...form, units: [...form.units, { role, unit_id: kind === "u" ? ref : null, group_id: kind === "g" ? ref : null, label: null, name: found.name }] });
    setPick("");
  };
  const save = async (e) => {
    e.preventDefault();
    const order = form.units.map((u, i) => [u, i]).sort((a, b) => ROLE_ORDER[a[0].role] - ROLE_ORDER[b[0].role] || a[1] - b[1]);
    const body = {
      units: order.map(([u]) => ({ role: u.role, unit_id: u.unit_id, group_id: u.group_id, label: u.label })),
      targets: form.targets.map((g) => ({ ...g, value: g.value === "" || g.value === null ? null : Number(g.value), due_date: g.due_date || null, comparator: g.comparator || null })),
    };
    const out = await run(() => patch(`/tasks/${t.id}`, body, ifMatch("task", base)), "已保存责任单位和目标");
    if (out) (setBase(out), setForm(fromTask(out)), setDirty(false), onDone());
  };
  const refresh = () => (setDirty(false), setBase(t), setForm(fromTask(t)), setMsg(null), onDone());
  const uid = `ed-${t.id}`;
  return html`<div class="task-editor" id=${uid} data-editor=${t.id}>
    <form onSubmit=${save} aria-labelledby=${uid + "-t"}>
      <h3 id=${uid + "-t"}>任务${t.code}：责任单位与量化目标</h3>
      <table class="list compact" id=${uid + "-units"}>
        <caption class="sr-only">任务${t.code}的责任单位</caption>
        <thead><tr><th scope="col">单位</th><th scope="col">职责</th><th scope="col"><span class="sr-only">操作</span></th></tr></thead>
        <tbody>${form.units.map(
          (u, i) => html`<tr data-unit=${u.name}>
            <td data-label="单位">${u.name}${!u.unit_id && !u.group_id ? html` <small class="muted">（原文表述）</small>` : null}</td>
            <td data-label="职责"><label class="sr-only" for=${`${uid}-role-${i}`}>${u.name}的职责</label>
              <select id=${`${uid}-role-${i}`} value=${u.role} onChange=${(e) => setUnit(i, { role: e.target.value })}>
                ${Object.entries(ROLE_LABELS).map(([k, v]) => html`<option value=${k}>${v}单位</option>`)}</select></td>
            <td><button type="button" class="link" aria-label=${`移除${u.name}`} onClick=${() => change({ ...form, units: form.units.filter((_, j) => j !== i) })}>移除</button></td>
          </tr>`,
        )}${form.units.length === 0 ? html`<tr><td colspan="3" class="muted">未指定责任单位：交办时不会交办该任务。</td></tr>` : null}</tbody>
      </table>
      <div class="field inline add-unit">
        <label for=${uid + "-role"}>添加为</label>
        <select id=${uid + "-role"} value=${role} onChange=${(e) => setRole(e.target.value)}>${Object.entries(ROLE_LABELS).map(([k, v]) => html`<option value=${k}>${v}单位</option>`)}</select>
        <label for=${uid + "-pick"}>单位</label>
        <select id=${uid + "-pick"} value=${pick} onChange=${(e) => setPick(e.target.value)}>
          <option value="">请选择单位…</option>
          ${units.map((u) => html`<option value=${"u:" + u.id}>${u.name}</option>`)}
          ${groups.length ? html`<optgroup label="单位组（交办时展开）">${groups.map((g) => html`<option value=${"g:" + g.id}>${g.name}</option>`)}</optgroup>` : null}
        </select>
        <button type="button" id=${uid + "-add"} disabled=${!pick} onClick=${add}>添加</button>
      </div>
      <fieldset class="targets">
        <legend>量化目标</legend>
        ${form.targets.map(
          (g, i) => html`<div class="field inline target" data-target=${i}>
            <label for=${`${uid}-tg-${i}`}>目标</label><input id=${`${uid}-tg-${i}`} class="wide" required maxlength="2000" value=${g.text} onInput=${(e) => change({ ...form, targets: form.targets.map((x, j) => (j === i ? { ...x, text: e.target.value } : x)) })} />
            <label for=${`${uid}-tgc-${i}`}>比较</label><select id=${`${uid}-tgc-${i}`} value=${g.comparator || ">="} onChange=${(e) => change({ ...form, targets: form.targets.map((x, j) => (j === i ? { ...x, comparator: e.target.value } : x)) })}>${COMPARATORS.map((c) => html`<option value=${c}>${COMPARATOR_WORDS[c]}</option>`)}</select>
            <label for=${`${uid}-tgv-${i}`}>数值</label><input id=${`${uid}-tgv-${i}`} type="number" step="any" size="6" value=${num(g.value)} onInput=${(e) => change({ ...form, targets: form.targets.map((x, j) => (j === i ? { ...x, value: e.target.value } : x)) })} />
            <label for=${`${uid}-tgu-${i}`}>计量单位</label><input id=${`${uid}-tgu-${i}`} size="4" maxlength="40" value=${g.unit || ""} onInput=${(e) => change({ ...form, targets: form.targets.map((x, j) => (j === i ? { ...x, unit: e.target.value || null } : x)) })} />
            <label for=${`${uid}-tgd-${i}`}>期限</label><${DateField} id=${`${uid}-tgd-${i}`} label="目标期限" value=${g.due_date || ""} onChange=${(v) => change({ ...form, targets: form.targets.map((x, j) => (j === i ? { ...x, due_date: v || null } : x)) })} />
            <button type="button" class="link" aria-label=${`删除目标${i + 1}`} onClick=${() => change({ ...form, targets: form.targets.filter((_, j) => j !== i) })}>删除</button>
          </div>`,
        )}
        <button type="button" class="link" onClick=${() => change({ ...form, targets: [...form.targets, { text: "", value: null, unit: null, comparator: ">=", due_date: t.due_date || null, cadence: null }] })}>＋ 添加目标</button>
      </fieldset>
      <div class="buttons">
        <button type="submit" class="primary" id=${uid + "-save"} disabled=${busy || !dirty}>保存单位和目标</button>
        <button type="button" disabled=${busy || !dirty} onClick=${() => (setForm(fromTask(base)), setDirty(false))}>撤销修改</button>
        <button type="button" onClick=${() => (onClose(), refocus(`[data-edit-task="${t.id}"]`))}>收起</button>
      </div>
      <${Msg} msg=${msg} onRefresh=${refresh} />
    </form>
    <${TaskIndicators} t=${t} plan=${plan} tasks=${tasks} indicators=${indicators} loose=${loose} units=${units} onDone=${onDone} />
  </div>`;
}

// The plan's indicators tied to this task: edited one by one, a new one added, or one of the plan's
// indicators not yet tied to a task linked to it.
function TaskIndicators({ t, plan, tasks, indicators, loose, units, onDone }) {
  const [adding, setAdding] = useState(false);
  const [link, setLink] = useState("");
  const [run, busy, msg] = useAction();
  const attach = async () => {
    const ind = loose.find((i) => i.id === Number(link));
    if (!ind) return;
    const out = await run(() => patch(`/indicators/${ind.id}`, { task_id: t.id }, ifMatch("indicator", ind)), `已将「${ind.name}」关联到任务${t.code}`);
    if (out) (setLink(""), onDone());
  };
  const lid = `link-ind-${t.id}`;
  return html`<div class="task-indicators" aria-labelledby=${`ti-${t.id}`} role="group">
    <h3 id=${`ti-${t.id}`}>任务${t.code}的指标（${indicators.length}）</h3>
    ${indicators.length ? null : html`<p class="muted small">尚无关联的指标。</p>`}
    <ul class="plain">${indicators.map((i) => html`<${IndicatorItem} key=${i.id} ind=${i} tasks=${tasks} units=${units} onDone=${onDone} />`)}</ul>
    ${adding
      ? html`<${IndicatorForm} plan=${plan} tasks=${tasks} units=${units} ind=${{ task_id: t.id, comparator: ">=", due_date: t.due_date || plan.period_end || "", cadence: "once" }}
          onDone=${() => (setAdding(false), onDone())} onCancel=${() => setAdding(false)} />`
      : html`<div class="buttons">
          <button type="button" data-add-indicator=${t.id} onClick=${() => setAdding(true)}>＋ 新增指标</button>
          ${loose.length
            ? html`<label for=${lid}>或关联计划中的指标</label>
                <select id=${lid} value=${link} onChange=${(e) => setLink(e.target.value)}><option value="">请选择…</option>${loose.map((i) => html`<option value=${i.id}>${i.name}</option>`)}</select>
                <button type="button" disabled=${busy || !link} onClick=${attach}>关联</button>`
            : null}
        </div>`}
    <${Msg} msg=${msg} onRefresh=${onDone} />
  </div>`;
}

function IndicatorItem({ ind, tasks, units, onDone }) {
  const [edit, setEdit] = useState(false);
  const [asking, setAsking] = useState(false);
  const [run, busy, msg] = useAction();
  const owner = units.find((u) => u.id === ind.owner_unit_id);
  const remove = async () => {
    const out = await run(() => del(`/indicators/${ind.id}`).then(() => true));
    if (out) onDone();
  };
  const back = () => refocus(`[data-edit-indicator="${ind.id}"]`);
  if (edit) return html`<li class="card" data-indicator=${ind.id}><${IndicatorForm} ind=${ind} tasks=${tasks} units=${units} onDone=${() => (setEdit(false), back(), onDone())} onCancel=${() => (setEdit(false), back())} /></li>`;
  return html`<li class="card indicator" data-indicator=${ind.id}>
    <span>${indicatorText(ind)}</span> <small class="muted">${owner ? `责任单位：${owner.name}` : ""}</small>
    <span class="buttons">
      <button type="button" class="link" aria-label=${`编辑指标${ind.name}`} data-edit-indicator=${ind.id} onClick=${() => setEdit(true)}>编辑</button>
      <button type="button" class="link" aria-label=${`删除指标${ind.name}`} disabled=${busy} onClick=${() => setAsking(true)}>删除</button>
    </span>
    ${asking
      ? html`<${Dialog} title="删除指标" label="删除" field=${null} onClose=${(ok) => (setAsking(false), ok !== null && remove())}>
          <p>删除指标「${ind.name}」及其已填报的数值？</p></${Dialog}>`
      : null}
    <${Msg} msg=${msg} onRefresh=${onDone} />
  </li>`;
}

// An indicator's fields: new (POST /indicators) or changed (PATCH, If-Match with its version).
function IndicatorForm({ plan, ind, tasks, units, onDone, onCancel }) {
  const [f, setF] = useState(() => ({
    name: ind.name || "",
    comparator: ind.comparator || ">=",
    target_value: num(ind.target_value),
    unit: ind.unit || "",
    due_date: ind.due_date || "",
    task_id: ind.task_id ? String(ind.task_id) : "",
    owner_unit_id: ind.owner_unit_id ? String(ind.owner_unit_id) : "",
    cadence: ind.cadence || "once",
  }));
  const [run, busy, msg] = useAction();
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  const fid = `ind-${ind.id || "new-" + (ind.task_id || "plan")}`;
  const save = async (e) => {
    e.preventDefault();
    const body = {
      name: f.name.trim(),
      comparator: f.comparator,
      target_value: f.target_value === "" ? null : Number(f.target_value),
      unit: f.unit.trim() || null,
      due_date: f.due_date || null,
      task_id: f.task_id ? Number(f.task_id) : null,
      owner_unit_id: f.owner_unit_id ? Number(f.owner_unit_id) : null,
      cadence: f.cadence,
    };
    const out = ind.id
      ? await run(() => patch(`/indicators/${ind.id}`, body, ifMatch("indicator", ind)))
      : await run(() => post("/indicators", { ...body, plan_id: plan.id }));
    if (out) onDone(out);
  };
  return html`<form class="indicator-form" id=${fid} onSubmit=${save} aria-label=${ind.id ? `编辑指标${ind.name}` : "新增指标"}>
    <div class="field"><label for=${fid + "-name"}>指标名称</label><input id=${fid + "-name"} required maxlength="300" value=${f.name} onInput=${set("name")} /></div>
    <div class="field inline">
      <label for=${fid + "-cmp"}>目标</label>
      <select id=${fid + "-cmp"} value=${f.comparator} onChange=${set("comparator")}>${COMPARATORS.map((c) => html`<option value=${c}>${COMPARATOR_WORDS[c]}</option>`)}</select>
      <label class="sr-only" for=${fid + "-value"}>目标值</label><input id=${fid + "-value"} type="number" step="any" size="8" value=${f.target_value} onInput=${set("target_value")} />
      <label for=${fid + "-unit"}>计量单位</label><input id=${fid + "-unit"} size="5" maxlength="40" placeholder="如 %、家" value=${f.unit} onInput=${set("unit")} />
      <label for=${fid + "-due"}>期限</label><${DateField} id=${fid + "-due"} label="指标期限" value=${f.due_date} onChange=${(v) => setF({ ...f, due_date: v })} />
      <label for=${fid + "-cadence"}>填报周期</label>
      <select id=${fid + "-cadence"} value=${f.cadence} onChange=${set("cadence")}>${Object.entries(CADENCES).map(([k, v]) => html`<option value=${k}>${v}</option>`)}</select>
    </div>
    <div class="field inline">
      <label for=${fid + "-task"}>关联任务</label>
      <select id=${fid + "-task"} value=${f.task_id} onChange=${set("task_id")}><option value="">（不关联任务）</option>${tasks.map((x) => html`<option value=${x.id}>${x.code}. ${x.title.slice(0, 24)}</option>`)}</select>
      <label for=${fid + "-owner"}>责任单位</label>
      <select id=${fid + "-owner"} value=${f.owner_unit_id} onChange=${set("owner_unit_id")}><option value="">（未指定）</option>${units.map((u) => html`<option value=${u.id}>${u.name}</option>`)}</select>
    </div>
    <div class="buttons">
      <button type="submit" class="primary" disabled=${busy}>${ind.id ? "保存指标" : "新增指标"}</button>
      <button type="button" onClick=${onCancel}>取消</button>
    </div>
    <${Msg} msg=${msg} onRefresh=${onCancel} />
  </form>`;
}

// Every indicator of the plan, with those not tied to a task first: the office ties each to its
// task and owner unit, fixes names and targets, or adds one, before 交办.
function PlanIndicators({ plan, tasks, units, indicators, onDone }) {
  const [adding, setAdding] = useState(false);
  const sorted = [...indicators].sort((a, b) => (a.task_id ? 1 : 0) - (b.task_id ? 1 : 0) || a.id - b.id);
  return html`<div class="panel" id="plan-indicators">
    <h2>主要指标（${indicators.length}）</h2>
    <p class="muted small">${indicators.filter((i) => !i.task_id).length ? `${indicators.filter((i) => !i.task_id).length} 个指标尚未关联任务。` : ""}关联任务和责任单位后，单位在进展报告中填报本期数值。</p>
    <ul class="plain">${sorted.map((i) => html`<${IndicatorItem} key=${i.id} ind=${i} tasks=${tasks} units=${units} onDone=${onDone} />`)}</ul>
    ${adding
      ? html`<${IndicatorForm} plan=${plan} tasks=${tasks} units=${units} ind=${{ comparator: ">=", due_date: plan.period_end || "", cadence: "once" }} onDone=${() => (setAdding(false), onDone())} onCancel=${() => setAdding(false)} />`
      : html`<button type="button" id="add-plan-indicator" onClick=${() => setAdding(true)}>＋ 新增指标</button>`}
  </div>`;
}

function Publish({ plan, checks, stale, onPublished }) {
  const [asking, setAsking] = useState(false);
  const [run, busy, msg] = useAction();
  const go = async () => {
    const out = await run(() => post(`/plans/${plan.id}/publish`, undefined, ifMatch("plan", plan)));
    if (out) onPublished(out);
  };
  const blocked = !checks.can_publish;
  return html`<div class="buttons sticky" id="publish-bar">
    <button type="button" class="primary" id="publish-plan" disabled=${busy || blocked || stale} onClick=${() => setAsking(true)}>交办（发布计划）</button>
    ${blocked ? html`<span class="muted" id="publish-blocked">${checks.unresolved_units.length ? "请先确认所有单位名称" : "暂不能交办"}</span>` : null}
    ${asking
      ? html`<${Dialog} title="确认交办" label="确认交办" field=${null} onClose=${(ok) => (setAsking(false), ok !== null && go())}>
          <p>将交办 ${checks.tasks_to_assign} 项任务，各责任单位各收到一条交办通知。交办后截止日期只能经延期审批调整。</p>
        </${Dialog}>`
      : null}
    <${Msg} msg=${msg} />
  </div>`;
}

function Published({ plan, result }) {
  return html`<div class="panel" id="publish-done" role="status">
    <h2>已交办：${plan.title}</h2>
    ${result ? html`<p>生成交办事项 ${result.assignments} 条，已通知 ${result.units_notified} 个单位。${result.withdrawn ? `旧版本中 ${result.withdrawn} 条未办结事项已撤销。` : ""}</p>` : html`<p>该计划已于 ${fmtTime(plan.published_at)} 交办。</p>`}
    ${result && result.warnings && result.warnings.length ? html`<ul>${result.warnings.map((w) => html`<li>${w.message}</li>`)}</ul>` : null}
    <p><a href=${`/app/breakdown?plan=${plan.id}`}>查看任务分解表</a></p>
  </div>`;
}
