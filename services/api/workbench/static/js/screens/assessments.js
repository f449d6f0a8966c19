// 考核: compute a period's scores by the plan's rules; each unit's score with its line-by-line breakdown.
import { html, useState, useEffect, useLoad, useAction, Msg, Failure, Loading, Empty, fmtDate, fmtTime, setTitle } from "../lib.js";
import { get, post, put, download } from "../api.js";
import { usePlans, PlanPicker } from "../plans.js";
import { useQuery, setQuery } from "../nav.js";
import { DateField } from "../datefield.js";

const KINDS = { year: "年度", half: "半年", quarter: "季度", month: "月度", week: "周" };

export default function Assessments() {
  const [plans, plan] = usePlans();
  const q = useQuery();
  const selected = Number(q.get("assessment")) || null;
  const [list, error, reload] = useLoad(() => (plan ? get("/assessments", { plan_id: plan.id, limit: 100 }) : Promise.resolve(null)), [plan && plan.id]);
  const [kind, setKind] = useState("year");
  const [start, setStart] = useState("");
  const [run, busy, msg] = useAction();
  useEffect(() => setTitle("考核"), []);
  const create = async (e) => {
    e.preventDefault();
    const out = await run(() => post(`/plans/${plan.id}/assessments`, { period_kind: kind, period_start: start || null }), "已计算");
    if (out) (reload(), setQuery({ assessment: out.id }));
  };
  return html`<section aria-labelledby="as-title">
    <h1 id="as-title">考核</h1>
    <${PlanPicker} plans=${plans} plan=${plan} />
    ${plan
      ? html`<form class="panel inline-form" onSubmit=${create} aria-label="计算考核">
          <label for="as-kind">周期</label>
          <select id="as-kind" value=${kind} onChange=${(e) => setKind(e.target.value)}>${Object.entries(KINDS).map(([k, v]) => html`<option value=${k}>${v}</option>`)}</select>
          <label for="as-start">周期内任一日期（默认本期；往期按期末状态计算）</label>
          <${DateField} id="as-start" label="周期内任一日期" value=${start} onChange=${setStart} />
          <button type="submit" class="primary" disabled=${busy}>计算考核</button>
        </form>`
      : null}
    <${Msg} msg=${msg} />
    <${Failure} error=${error} onRetry=${reload} />
    ${list && list.items.length === 0 ? html`<${Empty}>还没有考核结果</${Empty}>` : null}
    ${list && list.items.length
      ? html`<ul class="plain">${list.items.map(
          (x) => html`<li><a href=${`/app/assessments?plan=${plan.id}&assessment=${x.id}`}>${x.period_label || `${fmtDate(x.period_start)}—${fmtDate(x.period_end)}`}</a>
            <small class="muted"> ${x.published_at ? "已发布" : "未发布"}</small></li>`,
        )}</ul>`
      : null}
    ${selected ? html`<${Assessment} key=${selected} id=${selected} onChange=${reload} />` : null}
    ${plan ? html`<${Rules} key=${plan.id} plan=${plan} />` : null}
  </section>`;
}

// The plan's scoring rules (考核规则): each change is a new version; results keep the version they used.
const RULES = [
  ["base", "基础分", 1000],
  ["overdue_per_working_day", "每项每逾期1个工作日扣分", 100],
  ["overdue_cap_per_item", "每项逾期扣分上限", 1000],
  ["missing_report", "每缺报1期进展扣分", 100],
  ["late_report", "每迟报1期进展扣分", 100],
  ["returned_or_rejected", "每退回、驳回1次扣分", 100],
  ["early_completion", "每提前办结1项加分", 100],
  ["indicator_achieved", "每达成1项指标加分", 100],
];

function Rules({ plan }) {
  const [rule, error, reload, setRule] = useLoad(() => get(`/plans/${plan.id}/scoring-rules`), [plan.id]);
  const [form, setForm] = useState(null);
  const [run, busy, msg] = useAction();
  useEffect(() => rule && setForm(Object.fromEntries(RULES.map(([k]) => [k, String(rule.config[k])]))), [rule]);
  const save = async (e) => {
    e.preventDefault();
    const body = Object.fromEntries(RULES.map(([k]) => [k, Number(form[k])]));
    const out = await run(() => put(`/plans/${plan.id}/scoring-rules`, body), (r) => `已保存为第 ${r.version} 版规则`);
    if (out) setRule(out);
  };
  return html`<section aria-labelledby="rules-title">
    <h2 id="rules-title">考核规则</h2>
    <${Failure} error=${error} onRetry=${reload} />
    ${!rule || !form
      ? html`<${Loading} />`
      : html`<form class="panel" id="rules-form" onSubmit=${save} aria-labelledby="rules-title">
          <p class="muted" id="rules-version">${rule.version ? `第 ${rule.version} 版（${fmtTime(rule.created_at)}）` : "默认规则（尚未修改）"}；扣分项按正数填写，修改后只影响此后计算的考核。</p>
          <div class="grid">
            ${RULES.map(
              ([k, label, max]) => html`<div class="field"><label for=${`rule-${k}`}>${label}</label>
                <input id=${`rule-${k}`} type="number" min="0" max=${max} step="0.1" required value=${form[k]} onInput=${(e) => setForm({ ...form, [k]: e.target.value })} /></div>`,
            )}
          </div>
          <button type="submit" class="primary" disabled=${busy}>保存规则</button>
          <${Msg} msg=${msg} />
        </form>`}
  </section>`;
}

function Assessment({ id, onChange }) {
  const [x, error, reload] = useLoad(() => get(`/assessments/${id}`), [id]);
  const [open, setOpen] = useState(null);
  const [run, busy, msg] = useAction();
  if (error) return html`<${Failure} error=${error} onRetry=${reload} />`;
  if (!x) return html`<${Loading} />`;
  return html`<article class="panel" aria-label="考核结果">
    <h2>${x.plan_title || ""} ${x.period_label}</h2>
    <p class="muted">计算于 ${fmtTime(x.computed_at)}，规则第 ${x.rule_version || "—"} 版</p>
    <div class="buttons">
      <button type="button" disabled=${busy} onClick=${() => run(() => download(`/assessments/${x.id}.xlsx`, "考核.xlsx"))}>下载 Excel</button>
      ${x.published_at ? html`<span class="tag green">已发布</span>` : html`<button type="button" class="primary" disabled=${busy} onClick=${() => run(() => post(`/assessments/${x.id}/publish`), "已发布").then((o) => o && (reload(), onChange()))}>发布</button>`}
    </div>
    <${Msg} msg=${msg} />
    <table class="list" id="scores">
      <caption class="sr-only">各单位得分</caption>
      <thead><tr><th scope="col">名次</th><th scope="col">单位</th><th scope="col">得分</th><th scope="col">明细</th></tr></thead>
      <tbody>
        ${x.scores.map(
          (s) => html`<tr>
            <td data-label="名次">${s.rank}</td><td data-label="单位">${s.unit_name}</td><td data-label="得分">${s.score}</td>
            <td data-label="明细">
              <button type="button" class="link" aria-expanded=${open === s.unit_id} onClick=${() => setOpen(open === s.unit_id ? null : s.unit_id)}>${s.breakdown.length} 项</button>
              ${open === s.unit_id
                ? html`<ul class="breakdown-lines">${s.breakdown.map(
                    (l) => html`<li><strong>${l.points > 0 ? "+" : ""}${l.points}</strong> ${l.rule_name}：${l.text}${l.quantity !== 1 ? `（×${l.quantity}）` : ""}</li>`,
                  )}</ul>`
                : null}
            </td></tr>`,
        )}
      </tbody>
    </table>
  </article>`;
}
