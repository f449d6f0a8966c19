// 日期选择: a text field for one date with a calendar in Chinese — 2026年6月, weeks from Monday (一 … 日),
// 今天 / 清除 — whatever language the browser itself is set to (a native <input type="date"> shows the
// browser's locale: mm/dd/yyyy on an English system). Typed dates are read in the forms people
// write — 2026-06-30, 2026/6/30, 2026.6.30, 2026年6月30日, 20260630 — and shown as 2026-06-30.
// The value is committed (onChange) when a day is picked, on leaving the field and on Enter, so a
// field that saves at once (a draft task's deadline) saves one finished date, not every keystroke.
import { html, useState, useEffect, useRef, today } from "./lib.js";

const WEEKDAYS = ["一", "二", "三", "四", "五", "六", "日"];
const MONTHS = Array.from({ length: 12 }, (_, i) => i + 1);
const WEEK_NAMES = ["星期日", "星期一", "星期二", "星期三", "星期四", "星期五", "星期六"];
export const BAD_DATE = "请按“2026-06-30”的格式填写日期";
const pad = (n) => String(n).padStart(2, "0");
const iso = (y, m, d) => `${y}-${pad(m)}-${pad(d)}`;
// Dates are whole days: computed in UTC so no zone or summer time moves them.
const toDate = (s) => new Date(Date.UTC(+s.slice(0, 4), +s.slice(5, 7) - 1, +s.slice(8, 10)));
const fromDate = (d) => iso(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate());
const addDays = (s, n) => fromDate(new Date(toDate(s).getTime() + n * 86400000));
function addMonths(s, n) {
  const y = +s.slice(0, 4), m = +s.slice(5, 7) - 1 + n, d = +s.slice(8, 10);
  const ty = y + Math.floor(m / 12), tm = ((m % 12) + 12) % 12;
  const last = new Date(Date.UTC(ty, tm + 1, 0)).getUTCDate();
  return iso(ty, tm + 1, Math.min(d, last));
}
const weekday = (s) => (toDate(s).getUTCDay() + 6) % 7; // 0 = Monday
export const weekName = (s) => WEEK_NAMES[toDate(s).getUTCDay()];
export const longDate = (s) => `${+s.slice(0, 4)}年${+s.slice(5, 7)}月${+s.slice(8, 10)}日`;

// "" for an empty field, null for text that is not a date, else YYYY-MM-DD.
export function parseDate(text) {
  const t = (text || "").trim().replace(/\s+/g, "");
  if (!t) return "";
  const m = t.match(/^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$/) || t.match(/^(\d{4})(\d{2})(\d{2})$/);
  if (!m) return null;
  const [y, mo, d] = [+m[1], +m[2], +m[3]];
  const dt = new Date(Date.UTC(y, mo - 1, d));
  if (y < 1900 || dt.getUTCFullYear() !== y || dt.getUTCMonth() !== mo - 1 || dt.getUTCDate() !== d) return null;
  return iso(y, mo, d);
}

let seq = 0;

export function DateField({ id, value, onChange, required = false, disabled = false, label = "日期", min, max }) {
  const v = value || "";
  const [text, setText] = useState(v);
  const [bad, setBad] = useState(false);
  const [open, setOpen] = useState(false);
  const input = useRef(null);
  const toggle = useRef(null);
  const wrap = useRef(null);
  const [auto] = useState(() => `date${++seq}`);
  const fid = id || auto;
  // A new value from outside (a reload, a shift of every date) replaces what is shown.
  useEffect(() => {
    if (parseDate(text) !== v) {
      setText(v);
      setBad(false);
    }
  }, [v]);
  useEffect(() => {
    if (input.current) input.current.setCustomValidity(bad ? BAD_DATE : "");
  }, [bad]);
  const commit = (t) => {
    const parsed = parseDate(t);
    if (parsed === null) return setBad(true), false;
    setBad(false);
    if (parsed !== t) setText(parsed);
    if (parsed !== v) onChange(parsed);
    return true;
  };
  const pick = (day) => {
    setOpen(false);
    setText(day);
    setBad(false);
    if (day !== v) onChange(day);
    if (toggle.current) toggle.current.focus();
  };
  const close = (refocus = true) => {
    setOpen(false);
    if (refocus && toggle.current) toggle.current.focus();
  };
  const shown = parseDate(text);
  // Esc closes the calendar wherever the focus is in the field (the input, the button or the calendar).
  const escape = (e) => open && e.key === "Escape" && (e.preventDefault(), e.stopPropagation(), close());
  return html`<span class="datefield" ref=${wrap} onKeyDown=${escape}>
    <input id=${fid} ref=${input} class=${"date" + (bad ? " bad" : "")} type="text" inputmode="text" autocomplete="off"
      placeholder="年-月-日" maxlength="12" size="11" value=${text} required=${required} disabled=${disabled}
      aria-invalid=${bad ? "true" : undefined} aria-describedby=${bad ? `${fid}-bad` : `${fid}-week`}
      onInput=${(e) => (setText(e.target.value), bad && parseDate(e.target.value) !== null && setBad(false))}
      onBlur=${(e) => commit(e.target.value)}
      onKeyDown=${(e) => {
        if (e.key === "Enter" && !commit(e.target.value)) e.preventDefault();
        if (e.key === "ArrowDown" && e.altKey) (e.preventDefault(), setOpen(true));
      }} />
    <button type="button" class="datebtn" ref=${toggle} disabled=${disabled} aria-haspopup="dialog" aria-expanded=${open ? "true" : "false"}
      aria-label=${`打开日历：${label}`} title="选择日期" onClick=${() => setOpen(!open)}><span aria-hidden="true">▦</span></button>
    ${bad
      ? html`<small id=${`${fid}-bad`} class="datehint bad" role="alert">${BAD_DATE}</small>`
      : html`<small id=${`${fid}-week`} class="datehint">${shown ? weekName(shown) : ""}</small>`}
    ${open ? html`<${Calendar} fid=${fid} value=${shown || ""} label=${label} required=${required} min=${min} max=${max} wrap=${wrap} onPick=${pick} onClose=${close} />` : null}
  </span>`;
}

function Calendar({ fid, value, label, required, min, max, wrap, onPick, onClose }) {
  const now = today();
  const [focus, setFocus] = useState(value || now);
  const [moved, setMoved] = useState(false);
  const pop = useRef(null);
  const y = +focus.slice(0, 4), m = +focus.slice(5, 7);
  // Closed by a click outside (Esc: the field's handler).
  useEffect(() => {
    const outside = (e) => wrap.current && !wrap.current.contains(e.target) && onClose(false);
    document.addEventListener("pointerdown", outside);
    return () => document.removeEventListener("pointerdown", outside);
  }, []);
  useEffect(() => {
    const el = pop.current;
    if (!el) return;
    // Kept inside the window on a wide screen (on a phone it is a sheet at the bottom, see app.css).
    if (el.getBoundingClientRect().right > document.documentElement.clientWidth) el.classList.add("right");
    const day = el.querySelector(`button[data-day="${focus}"]`);
    if (day && (moved || !el.contains(document.activeElement))) day.focus();
  }, [focus]);
  const go = (day) => (setMoved(true), setFocus(day));
  const allowed = (day) => (!min || day >= min) && (!max || day <= max);
  const keys = (e) => {
    const step = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -7, ArrowDown: 7 }[e.key];
    if (!e.target.dataset.day) return;
    if (step) return e.preventDefault(), go(addDays(focus, step));
    if (e.key === "PageUp" || e.key === "PageDown") return e.preventDefault(), go(addMonths(focus, (e.key === "PageUp" ? -1 : 1) * (e.shiftKey ? 12 : 1)));
    if (e.key === "Home") return e.preventDefault(), go(addDays(focus, -weekday(focus)));
    if (e.key === "End") return e.preventDefault(), go(addDays(focus, 6 - weekday(focus)));
  };
  const first = iso(y, m, 1);
  const start = addDays(first, -weekday(first));
  const weeks = [];
  for (let w = 0; w < 6; w++) {
    const days = Array.from({ length: 7 }, (_, i) => addDays(start, w * 7 + i));
    if (w > 3 && +days[0].slice(5, 7) !== m) break;
    weeks.push(days);
  }
  const years = Array.from({ length: 21 }, (_, i) => y - 10 + i);
  const titleId = `${fid}-month`;
  return html`<div class="datepop" ref=${pop} role="dialog" aria-modal="false" aria-label=${`选择日期：${label}`} onKeyDown=${keys}>
    <div class="calhead">
      <button type="button" class="calnav" aria-label="上个月" onClick=${() => go(addMonths(focus, -1))}>‹</button>
      <span id=${titleId} class="sr-only" aria-live="polite">${y}年${m}月</span>
      <select aria-label="年" value=${y} onChange=${(e) => go(iso(+e.target.value, m, 1))}>${years.map((n) => html`<option value=${n}>${n}年</option>`)}</select>
      <select aria-label="月" value=${m} onChange=${(e) => go(iso(y, +e.target.value, 1))}>${MONTHS.map((n) => html`<option value=${n}>${n}月</option>`)}</select>
      <button type="button" class="calnav" aria-label="下个月" onClick=${() => go(addMonths(focus, 1))}>›</button>
    </div>
    <table class="calgrid" aria-labelledby=${titleId}>
      <thead><tr>${WEEKDAYS.map((d, i) => html`<th scope="col" abbr=${WEEK_NAMES[(i + 1) % 7]}>${d}</th>`)}</tr></thead>
      <tbody>${weeks.map(
        (days) => html`<tr>${days.map((day) => {
          const cls = ["calday", +day.slice(5, 7) !== m ? "other" : "", day === now ? "today" : "", day === value ? "on" : "", weekday(day) > 4 ? "weekend" : ""].filter(Boolean).join(" ");
          return html`<td><button type="button" class=${cls} data-day=${day} tabindex=${day === focus ? 0 : -1} disabled=${!allowed(day)}
            aria-pressed=${day === value ? "true" : "false"} aria-current=${day === now ? "date" : undefined}
            aria-label=${`${longDate(day)} ${weekName(day)}${day === now ? "（今天）" : ""}`} onClick=${() => onPick(day)}>${+day.slice(8, 10)}</button></td>`;
        })}</tr>`,
      )}</tbody>
    </table>
    <div class="calfoot">
      <button type="button" class="link" disabled=${!allowed(now)} onClick=${() => onPick(now)}>今天</button>
      ${required ? null : html`<button type="button" class="link" onClick=${() => onPick("")}>清除</button>`}
      <button type="button" class="link" onClick=${() => onClose()}>关闭</button>
    </div>
  </div>`;
}

// 报告期: the period of an indicator value, chosen by its cadence — a year (2025), a quarter
// (2025-Q2), a month (2025-06) or an ISO week (2025-W23, Monday to Sunday) — from selects in
// Chinese instead of typed codes; it starts on the current period in the plan's zone.
const QUARTERS = ["第一季度", "第二季度", "第三季度", "第四季度"];
function isoWeek(s) {
  const d = toDate(s);
  const thursday = new Date(d.getTime() + (3 - ((d.getUTCDay() + 6) % 7)) * 86400000);
  const jan1 = Date.UTC(thursday.getUTCFullYear(), 0, 1);
  return [thursday.getUTCFullYear(), 1 + Math.floor((thursday.getTime() - jan1) / 604800000)];
}
function weekMonday(y, w) {
  const jan4 = iso(y, 1, 4);
  return addDays(jan4, -weekday(jan4) + (w - 1) * 7);
}
const weeksIn = (y) => isoWeek(iso(y, 12, 28))[1];
export function currentPeriod(cadence, day = today()) {
  const y = +day.slice(0, 4), m = +day.slice(5, 7);
  if (cadence === "quarterly") return `${y}-Q${Math.floor((m - 1) / 3) + 1}`;
  if (cadence === "monthly") return `${y}-${pad(m)}`;
  if (cadence === "weekly") {
    const [wy, w] = isoWeek(day);
    return `${wy}-W${pad(w)}`;
  }
  return String(y);
}

export function PeriodField({ id, cadence, value, onChange }) {
  const v = value || currentPeriod(cadence);
  useEffect(() => {
    if (!value) onChange(v);
  }, [cadence]);
  const y = +v.slice(0, 4);
  const rest = v.slice(5);
  const now = +today().slice(0, 4);
  const years = Array.from({ length: 7 }, (_, i) => now - 5 + i);
  const set = (year, part) => onChange(part ? `${year}-${part}` : String(year));
  const year = html`<select id=${id} value=${y} onChange=${(e) => set(+e.target.value, rest)}>${years.map((n) => html`<option value=${n}>${n}年</option>`)}</select>`;
  if (cadence === "quarterly")
    return html`<span class="period">${year}<select aria-label="季度" value=${rest || "Q1"} onChange=${(e) => set(y, e.target.value)}>${QUARTERS.map((q, i) => html`<option value=${"Q" + (i + 1)}>${q}</option>`)}</select></span>`;
  if (cadence === "monthly")
    return html`<span class="period">${year}<select aria-label="月份" value=${rest || "01"} onChange=${(e) => set(y, e.target.value)}>${MONTHS.map((n) => html`<option value=${pad(n)}>${n}月</option>`)}</select></span>`;
  if (cadence === "weekly") {
    const weeks = Array.from({ length: weeksIn(y) }, (_, i) => i + 1);
    const label = (w) => {
      const mon = weekMonday(y, w), sun = addDays(mon, 6);
      return `第${w}周（${+mon.slice(5, 7)}月${+mon.slice(8, 10)}日—${+sun.slice(5, 7)}月${+sun.slice(8, 10)}日）`;
    };
    return html`<span class="period">${year}<select aria-label="周" value=${rest || "W01"} onChange=${(e) => set(y, e.target.value)}>${weeks.map((w) => html`<option value=${"W" + pad(w)}>${label(w)}</option>`)}</select></span>`;
  }
  return year;
}
