// 计划导入: upload a plan document, preview what was recognised (with the importer's warnings), import it
// as a draft; then, on the draft, say which unit each unconfirmed name means (a suggestion or a new
// unit), fix the dates (shift them all, or one task's), and 交办 (publish): every unit is told once.
import { html, useState, useEffect, useRef, useLoad, useAction, Msg, Failure, Loading, Dialog, ROLE_LABELS, fmtSize, fmtTime, setTitle } from "../lib.js";
import { upload, post, patch, get, all, ifMatch } from "../api.js";
import { useQuery, navigate } from "../nav.js";

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
                  <input id=${`imp-${si}-${ti}-due`} type="date" value=${t.due || ""} onChange=${(e) => edit(si, ti, "due", e.target.value || null)} />
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
  const [plan, checks, tasks] = await Promise.all([get(`/plans/${id}`), get(`/plans/${id}/checks`), all("/tasks", { plan_id: id }, 5000)]);
  return { plan, checks, tasks };
}

const unitText = (u) => u.unit_name || u.group_name || u.label || "";

function Draft({ id }) {
  const [data, error, reload] = useLoad(() => loadDraft(id), [id]);
  const [done, setDone] = useState(null);
  if (error) return html`<${Failure} error=${error} onRetry=${reload} />`;
  if (!data) return html`<${Loading} />`;
  const { plan, checks, tasks } = data;
  if (done || plan.state !== "draft") return html`<${Published} plan=${plan} result=${done} />`;
  const unresolved = new Set(checks.unresolved_units.map((u) => u.name));
  const sections = plan.sections || [];
  const bySection = (sid) => tasks.filter((t) => t.section_id === sid && !t.parent_id);
  const loose = tasks.filter((t) => !sections.some((s) => s.id === t.section_id) && !t.parent_id);
  const sub = (t) => tasks.filter((x) => x.parent_id === t.id);
  const row = (t, child) => html`<${TaskRow} key=${t.id + ":" + t.version} t=${t} child=${child} unresolved=${unresolved} onDone=${reload} />`;
  return html`<section aria-labelledby="draft-title" id="draft" data-plan=${plan.id}>
    <p class="crumbs"><a href="/app/intake">计划导入</a> › 草稿</p>
    <div class="head"><h1 id="draft-title">${plan.title}</h1><span class="tag yellow">草稿 · 未交办</span></div>
    <p id="draft-summary">${plan.doc_no ? `${plan.doc_no}，` : ""}${checks.tasks} 项任务，交办时将交办 ${checks.tasks_to_assign} 项${checks.past_deadlines ? html`，<strong class="red-text">${checks.past_deadlines} 项截止日期已过</strong>` : ""}。</p>
    ${checks.warnings.length
      ? html`<div class="panel" id="draft-warnings"><h2>需要核对的问题（${checks.warnings.length}）</h2>
          <ul>${checks.warnings.map((w) => html`<li>${w.message}${w.text ? html` <q>${w.text}</q>` : null}</li>`)}</ul></div>`
      : null}
    <${Names} plan=${plan} names=${checks.unresolved_units} onDone=${reload} />
    <${Shift} plan=${plan} past=${checks.past_deadlines} onDone=${reload} />
    <h2>任务与截止日期</h2>
    <table class="list" id="draft-tasks">
      <caption class="sr-only">草稿中的任务、责任单位和截止日期</caption>
      <thead><tr><th scope="col">任务</th><th scope="col">责任单位</th><th scope="col">截止日期</th></tr></thead>
      <tbody>
        ${sections.map(
          (sec) => html`<tr><th colspan="3" class="section" scope="rowgroup">（${sec.code}）${sec.title}</th></tr>
            ${bySection(sec.id).map((t) => [row(t, false), ...sub(t).map((c) => row(c, true))])}`,
        )}
        ${loose.map((t) => [row(t, false), ...sub(t).map((c) => row(c, true))])}
      </tbody>
    </table>
    <${Publish} plan=${plan} checks=${checks} onPublished=${setDone} />
  </section>`;
}

// Each name the importer could not match: pick one of its suggestions (or any unit), or create it.
function Names({ plan, names, onDone }) {
  const [units] = useLoad(() => (names.length ? all("/units", { is_active: true }, 2000) : Promise.resolve([])), [names.length > 0]);
  if (!names.length) return html`<p class="msg ok" id="names-ok">所有责任单位均已确认。</p>`;
  return html`<div class="panel" id="draft-names">
    <h2>待确认的单位名称（${names.length}）</h2>
    <p class="muted small">文件中的写法与已有单位对不上。请指定对应的单位（会记为别名，下次导入自动识别），或新建单位。</p>
    <ul class="plain">${names.map((n) => html`<${NameRow} key=${n.name} plan=${plan} n=${n} units=${units || []} onDone=${onDone} />`)}</ul>
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
function Shift({ plan, past, onDone }) {
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
      <button type="submit" disabled=${busy || (!Number(years) && !Number(months) && !Number(days))}>整体调整</button>
    </div>
    <${Msg} msg=${msg} onRefresh=${onDone} />
  </form>`;
}

function TaskRow({ t, child, unresolved, onDone }) {
  const [run, busy, msg] = useAction();
  const setDue = (value) =>
    run(() => patch(`/tasks/${t.id}`, { due_date: value || null }, ifMatch("task", t)), "已保存").then((out) => out && onDone());
  return html`<tr data-task=${t.id} data-task-code=${t.code} class=${child ? "subtask" : ""}>
    <td data-label="任务">${t.code}. ${t.title}</td>
    <td data-label="责任单位"><ul class="units">${t.units.map(
      (u) => html`<li class=${!u.unit_id && !u.group_id && unresolved.has((u.label || "").trim()) ? "red-text" : ""}>${ROLE_LABELS[u.role] || u.role}：${unitText(u)}${!u.unit_id && !u.group_id && unresolved.has((u.label || "").trim()) ? "（待确认）" : ""}</li>`,
    )}${t.units.length === 0 ? html`<li class="muted">未指定</li>` : null}</ul></td>
    <td data-label="截止日期">
      <label class="sr-only" for=${`due-${t.id}`}>任务${t.code}截止日期</label>
      <input id=${`due-${t.id}`} type="date" value=${t.due_date || ""} disabled=${busy} onChange=${(e) => setDue(e.target.value)} />
      ${t.recurrence ? html`<small class="muted">（每期）</small>` : null}
      <${Msg} msg=${msg && !msg.ok ? msg : null} onRefresh=${onDone} />
    </td>
  </tr>`;
}

function Publish({ plan, checks, onPublished }) {
  const [asking, setAsking] = useState(false);
  const [run, busy, msg] = useAction();
  const go = async () => {
    const out = await run(() => post(`/plans/${plan.id}/publish`, undefined, ifMatch("plan", plan)));
    if (out) onPublished(out);
  };
  const blocked = !checks.can_publish;
  return html`<div class="buttons sticky" id="publish-bar">
    <button type="button" class="primary" id="publish-plan" disabled=${busy || blocked} onClick=${() => setAsking(true)}>交办（发布计划）</button>
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
