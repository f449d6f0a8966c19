// 计划导入: upload a plan document, preview what was recognised (with the importer's warnings), then import.
import { html, useState, useEffect, useRef, useAction, Msg, fmtSize, setTitle } from "../lib.js";
import { upload, post } from "../api.js";

const ACCEPT = ".txt,.docx,.pdf,.xlsx,.json";

export default function Intake() {
  const [file, setFile] = useState(null);
  const [progress, setProgress] = useState(null);
  const [preview, setPreview] = useState(null);
  const [report, setReport] = useState(null);
  const [drag, setDrag] = useState(false);
  const [run, busy, msg] = useAction();
  const picker = useRef(null);
  useEffect(() => setTitle("计划导入"), []);

  const send = (dryRun) =>
    run(async () => {
      setProgress(0);
      try {
        return await upload("/plans/import", file, setProgress, { query: { dry_run: dryRun, publish: !dryRun } });
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
    const out = await run(() => post("/plans/import", doc, { query: { publish: true } }));
    if (out) setReport(out);
  };

  return html`<section aria-labelledby="intake-title">
    <h1 id="intake-title">计划导入</h1>
    <p class="muted">上传行动计划原文（.txt / .docx / .pdf）、任务分解表（.xlsx）或计划交换格式（.json）。先预览识别结果，确认无误后导入；导入即按责任单位生成交办事项。</p>
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
      <button type="button" class="primary" id="do-import" disabled=${busy} onClick=${() => onImport(doc)}>确认导入并交办</button>
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
