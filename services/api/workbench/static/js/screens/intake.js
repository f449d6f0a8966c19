// 计划导入: upload a plan document, preview what was recognised (with the importer's warnings), then import.
import { html, useState, useEffect, useRef, useAction, Msg, fmtSize, fmtDate, setTitle } from "../lib.js";
import { upload } from "../api.js";

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
  const doImport = async () => {
    const out = await send(false);
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
    ${report ? html`<${Imported} report=${report} />` : preview ? html`<${Preview} preview=${preview} busy=${busy} onImport=${doImport} />` : null}
  </section>`;
}

function Warnings({ warnings }) {
  if (!warnings.length) return html`<p class="msg ok">未发现需要人工核对的问题。</p>`;
  return html`<div class="panel" id="import-warnings">
    <h2>需要核对的问题（${warnings.length}）</h2>
    <ul>${warnings.map((w) => html`<li>${w.line ? html`<span class="muted">第 ${w.line} 行：</span>` : null}${w.message}${w.text ? html` <q>${w.text}</q>` : null}</li>`)}</ul>
  </div>`;
}

function Preview({ preview, busy, onImport }) {
  const doc = preview.document;
  const s = preview.summary;
  return html`<div id="import-preview">
    <h2>识别结果：${s.title}</h2>
    <p>${s.sections} 个重点任务板块，${s.tasks} 项任务，${s.indicators} 个指标。</p>
    <${Warnings} warnings=${preview.warnings} />
    <table class="list">
      <caption class="sr-only">识别出的任务</caption>
      <thead><tr><th scope="col">任务</th><th scope="col">牵头单位</th><th scope="col">配合单位</th><th scope="col">落实单位</th><th scope="col">截止</th></tr></thead>
      <tbody>
        ${doc.sections.map(
          (sec) => html`<tr><th colspan="5" class="section" scope="rowgroup">（${sec.code}）${sec.title}</th></tr>
            ${sec.tasks.map(
              (t) => html`<tr>
                <td data-label="任务">${t.code}. ${t.title}</td>
                <td data-label="牵头单位">${(t.lead_units || []).join("、") || "—"}</td>
                <td data-label="配合单位">${(t.co_units || []).join("、") || "—"}</td>
                <td data-label="落实单位">${(t.implementing_units || []).join("、") || "—"}</td>
                <td data-label="截止">${t.due ? fmtDate(t.due) : "—"}${t.recurrence ? "（每期）" : ""}</td>
              </tr>`,
            )}`,
        )}
      </tbody>
    </table>
    <div class="buttons sticky">
      <button type="button" class="primary" id="do-import" disabled=${busy} onClick=${onImport}>确认导入并交办</button>
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
