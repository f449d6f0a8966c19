// 节假日: which years' statutory holidays are known (the package, the office's table, or nobody),
// a month of days with their kind, and loading a year's State Council notice (office).
import { html, useState, useEffect, useLoad, useAction, Msg, Failure, Loading, isOffice, today, fmtTime, setTitle } from "../lib.js";
import { get, put } from "../api.js";
import { useQuery, setQuery } from "../nav.js";

const COVERAGE = { package: "内置日历", office: "办公室载入", none: "未覆盖（按周一至周五）" };
const KIND = { workday: "工作日", weekend: "周末", holiday: "节假日", adjusted_workday: "调休上班" };
const DOW = ["一", "二", "三", "四", "五", "六", "日"];

const pad = (n) => String(n).padStart(2, "0");
const lastDay = (y, m) => new Date(Date.UTC(y, m, 0)).getUTCDate();
function* range(a, b) {
  for (let t = Date.parse(a + "T00:00:00Z"); t <= Date.parse(b + "T00:00:00Z"); t += 86400000) yield new Date(t).toISOString().slice(0, 10);
}

// The notice as text, one entry a line, as `duban calendar set` reads it (docs/calendar.md).
export function parseNotice(text, year) {
  const out = { source: "", rest_days: [], work_days: [] };
  const errors = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*$/, "").trim();
    if (!line) return;
    const src = /^(source|来源)\s*[:：]\s*(.*)$/i.exec(line);
    if (src) return void (out.source = src[2].trim());
    const m = /^(休|rest|放假|班|work|上班)\s+(\d{4}-\d{2}-\d{2})(?:\s*(?:\.\.|~|至)\s*(\d{4}-\d{2}-\d{2}))?\s*(.*)$/i.exec(line);
    if (!m) return void errors.push(`第 ${i + 1} 行看不懂：${raw.trim()}`);
    const list = /^(休|rest|放假)$/i.test(m[1]) ? out.rest_days : out.work_days;
    const days = [...range(m[2], m[3] || m[2])];
    if (!days.length || days.length > 31) return void errors.push(`第 ${i + 1} 行的日期范围不对（最多 31 天）`);
    for (const d of days) {
      if (!d.startsWith(String(year))) return void errors.push(`第 ${i + 1} 行的 ${d} 不在 ${year} 年`);
      list.push(m[4] ? { date: d, name: m[4].trim() } : d);
    }
  });
  return [out, errors];
}

// The year's holidays and adjusted working days as that text (consecutive days of one name merged).
function toText(days, source) {
  const lines = source ? [`source: ${source}`] : [];
  const marked = days.filter((d) => d.kind === "holiday" || d.kind === "adjusted_workday" || (d.kind === "weekend" && d.name));
  let run = null;
  const flush = () => run && lines.push(`${run.tag} ${run.from}${run.to !== run.from ? ".." + run.to : ""}${run.name ? " " + run.name : ""}`);
  for (const d of marked) {
    const tag = d.is_working_day ? "班" : "休";
    const prev = run && [...range(run.to, d.date)].length === 2;
    if (run && prev && run.tag === tag && run.name === (d.name || "")) run.to = d.date;
    else (flush(), (run = { tag, from: d.date, to: d.date, name: d.name || "" }));
  }
  flush();
  return lines.join("\n");
}

export default function Calendar({ user }) {
  const q = useQuery();
  const now = today();
  const year = Number(q.get("year")) || Number(now.slice(0, 4));
  const month = Number(q.get("month")) || Number(now.slice(5, 7));
  const [years, yearsError, reloadYears] = useLoad(() => get("/calendar/years"), []);
  const [days, daysError, reloadDays] = useLoad(() => get("/calendar/days", { from: `${year}-01-01`, to: `${year}-12-31` }), [year]);
  useEffect(() => setTitle("节假日"), []);
  const cov = years && years.find((y) => y.year === year);
  const monthDays = days ? days.filter((d) => d.date.startsWith(`${year}-${pad(month)}`)) : [];
  const lead = monthDays.length ? (new Date(monthDays[0].date + "T00:00:00Z").getUTCDay() + 6) % 7 : 0;
  const go = (dm) => {
    let m = month + dm, y = year;
    if (m < 1) (m = 12), y--;
    if (m > 12) (m = 1), y++;
    setQuery({ year: y, month: m });
  };
  const reload = () => (reloadYears(), reloadDays());
  return html`<section aria-labelledby="cal-title">
    <h1 id="cal-title">节假日与工作日</h1>
    <p class="muted">截止日期、提醒与逾期都按工作日计算（法定节假日与调休）。日期按计划所在时区（北京时间）显示。</p>
    <${Failure} error=${yearsError || daysError} onRetry=${reload} />
    ${!years
      ? html`<${Loading} />`
      : html`<table class="list" id="calendar-years">
          <caption class="sr-only">各年份的节假日数据来源</caption>
          <thead><tr><th scope="col">年份</th><th scope="col">来源</th><th scope="col">办公室载入</th><th scope="col">依据</th></tr></thead>
          <tbody>${years.filter((y) => y.year >= Number(now.slice(0, 4)) - 2 || y.year === year).map(
            (y) => html`<tr data-year=${y.year} class=${y.year === year ? "on" : ""}>
              <td data-label="年份"><a href=${`/app/calendar?year=${y.year}&month=${y.year === year ? month : 1}`} aria-current=${y.year === year ? "true" : undefined}>${y.year} 年</a></td>
              <td data-label="来源">${y.coverage === "none" ? html`<span class="tag yellow">${COVERAGE.none}</span>` : COVERAGE[y.coverage]}</td>
              <td data-label="办公室载入">${y.office_rest_days || y.office_work_days ? `休 ${y.office_rest_days} 天，班 ${y.office_work_days} 天` : "—"}</td>
              <td data-label="依据">${y.source || "—"}${y.updated_at ? html`<div class="muted small">${fmtTime(y.updated_at)}</div>` : null}</td>
            </tr>`,
          )}</tbody>
        </table>
        <p class="small muted">更早年份：${years.filter((y) => y.year < Number(now.slice(0, 4)) - 2 && y.year !== year).map((y, i) => html`${i ? "、" : ""}<a href=${`/app/calendar?year=${y.year}&month=1`}>${y.year}</a>`)}</p>`}
    <div class="head">
      <h2 id="month-title">${year} 年 ${month} 月</h2>
      <div class="buttons">
        <button type="button" onClick=${() => go(-1)}>‹ 上月</button>
        <button type="button" onClick=${() => go(1)}>下月 ›</button>
      </div>
    </div>
    ${!days
      ? html`<${Loading} />`
      : html`<div class="cal" id="calendar-month">
          ${DOW.map((d) => html`<div class="dow" aria-hidden="true">${d}</div>`)}
          ${Array.from({ length: lead }, () => html`<div aria-hidden="true"></div>`)}
          ${monthDays.map(
            (d) => html`<div class=${"day " + (d.kind === "adjusted_workday" ? "adjusted" : d.is_working_day ? "" : "rest")} data-date=${d.date} data-kind=${d.kind}
                title=${KIND[d.kind]}>
              <span class="n">${Number(d.date.slice(8))}</span> <span class="sr-only">${d.date} ${KIND[d.kind]}</span>
              ${d.name ? html`<span class="name">${d.name}</span>` : d.kind === "adjusted_workday" ? html`<span class="name">调休</span>` : null}
            </div>`,
          )}
        </div>`}
    ${isOffice(user) && days && years
      ? html`<${Load} key=${year} year=${year} days=${days} cov=${cov} onDone=${reload} />`
      : null}
  </section>`;
}

function Load({ year, days, cov, onDone }) {
  const [text, setText] = useState(() => toText(days, cov && cov.coverage === "office" ? cov.source : ""));
  const [run, busy, msg, setMsg] = useAction();
  const save = async (e) => {
    e.preventDefault();
    const [notice, errors] = parseNotice(text, year);
    if (errors.length) return setMsg({ ok: false, text: errors.join("；") });
    const out = await run(
      () => put(`/calendar/years/${year}`, notice),
      (r) => `已载入 ${year} 年：休 ${r.office_rest_days} 天，调休上班 ${r.office_work_days} 天${r.moved_assignments ? `；${r.moved_assignments} 项在办交办的截止日期落在休息日，已顺延到下一个工作日` : ""}`,
    );
    if (out) onDone();
  };
  return html`<form class="panel" id="calendar-form" onSubmit=${save} aria-labelledby="load-title">
    <h2 id="load-title">载入 ${year} 年的节假日安排</h2>
    <p class="muted small">按国务院办公厅通知逐行填写：「休 日期[..日期] 名称」为放假（含调休形成的休息日），「班 日期 名称」为调休上班；第一行可写「source: 文号」。载入后整年替换办公室的表。</p>
    <div class="field"><label for="calendar-text">通知内容</label>
      <textarea id="calendar-text" rows="10" spellcheck="false" value=${text} onInput=${(e) => setText(e.target.value)}></textarea></div>
    <button type="submit" class="primary" disabled=${busy}>载入</button>
    <${Msg} msg=${msg} />
  </form>`;
}
