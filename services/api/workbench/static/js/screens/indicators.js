// 指标: the plan's measured goals with their latest value, progress, forecast to the due date and
// RAG light; each indicator's reported values, and a form to report one (office or the owner unit).
import { html, useState, useEffect, useLoad, useAction, Msg, Failure, Loading, Empty, RagDot, RAG_LABELS, COMPARATOR_LABELS, fmtDate, fmtTime, isOffice, setTitle } from "../lib.js";
import { get, post, all } from "../api.js";
import { usePlans, PlanPicker } from "../plans.js";
import { useQuery, setQuery } from "../nav.js";
import { PeriodField } from "../datefield.js";

const CADENCE = { once: "一次", annual: "每年", quarterly: "每季度", monthly: "每月", cumulative: "累计" };
const num = (v, unit) => (v === null || v === undefined ? "—" : `${Math.round(v * 100) / 100}${unit || ""}`);
const pct = (v) => (v === null || v === undefined ? "—" : `${Math.round(v * 100)}%`);

export default function Indicators({ user }) {
  const [plans, plan, plansError] = usePlans();
  const q = useQuery();
  const open = Number(q.get("indicator")) || null;
  const [data, error, reload] = useLoad(async () => {
    if (!plan) return null;
    const [items, units] = await Promise.all([all("/indicators", { plan_id: plan.id }, 500), all("/units", {}, 1000)]);
    return { items, unitName: Object.fromEntries(units.map((u) => [u.id, u.name])) };
  }, [plan && plan.id]);
  useEffect(() => setTitle("指标"), []);
  const counts = data ? data.items.reduce((m, i) => ((m[(i.status && i.status.rag) || "none"] = (m[(i.status && i.status.rag) || "none"] || 0) + 1), m), {}) : {};
  return html`<section aria-labelledby="ind-title">
    <h1 id="ind-title">指标</h1>
    <${PlanPicker} plans=${plans} plan=${plan} />
    <${Failure} error=${plansError || error} onRetry=${reload} />
    ${plans && !plan ? html`<${Empty}>还没有计划</${Empty}>` : null}
    ${plan && !data ? html`<${Loading} />` : null}
    ${data && data.items.length === 0 ? html`<${Empty}>本计划没有量化指标</${Empty}>` : null}
    ${data && data.items.length
      ? html`<p class="muted" id="ind-summary">共 ${data.items.length} 项：${["green", "yellow", "red"].map((r) => `${RAG_LABELS[r]} ${counts[r] || 0}`).join("，")}</p>
        <table class="list" id="indicators-table">
          <caption class="sr-only">指标完成情况与预测</caption>
          <thead><tr><th scope="col">指标</th><th scope="col" class="num">目标</th><th scope="col" class="num">最新值</th><th scope="col" class="num">进度</th><th scope="col" class="num">到期预测</th><th scope="col">状态</th><th scope="col">责任单位</th></tr></thead>
          <tbody>
            ${data.items.map((i) => {
              const st = i.status || {};
              return html`<tr data-indicator=${i.id}>
                <td data-label="指标"><button type="button" class="link" aria-expanded=${open === i.id} onClick=${() => setQuery({ indicator: open === i.id ? null : i.id })}>${i.name}</button>
                  <div class="muted small">${CADENCE[i.cadence] || i.cadence}${i.due_date ? ` · 截止 ${fmtDate(i.due_date)}` : ""}</div></td>
                <td data-label="目标" class="num">${COMPARATOR_LABELS[i.comparator] || i.comparator || ""} ${num(i.target_value, i.unit)}</td>
                <td data-label="最新值" class="num">${num(st.latest_value, i.unit)}</td>
                <td data-label="进度" class="num">${pct(st.progress)}</td>
                <td data-label="到期预测" class="num">${num(st.forecast, i.unit)}</td>
                <td data-label="状态">${st.rag ? html`<${RagDot} rag=${st.rag} /> ${RAG_LABELS[st.rag] || st.rag}` : "—"}${st.reason ? html`<div class="muted small">${st.reason}</div>` : null}</td>
                <td data-label="责任单位">${i.owner_unit_id ? data.unitName[i.owner_unit_id] || i.owner_unit_id : "—"}</td>
              </tr>`;
            })}
          </tbody>
        </table>`
      : null}
    ${data && open && data.items.find((i) => i.id === open)
      ? html`<${Values} key=${open} ind=${data.items.find((i) => i.id === open)} user=${user} onDone=${reload} />`
      : null}
  </section>`;
}

function Values({ ind, user, onDone }) {
  const [values, error, reload] = useLoad(() => get(`/indicators/${ind.id}/values`), [ind.id]);
  const [period, setPeriod] = useState("");
  const [value, setValue] = useState("");
  const [run, busy, msg] = useAction();
  const canReport = isOffice(user) || (ind.owner_unit_id && user.unit_id === ind.owner_unit_id);
  const add = async (e) => {
    e.preventDefault();
    const out = await run(() => post(`/indicators/${ind.id}/values`, { period: period.trim(), value: Number(value) }), "已填报");
    if (out) (setValue(""), reload(), onDone());
  };
  return html`<section class="panel" aria-labelledby="values-title" id="indicator-values">
    <h2 id="values-title">${ind.name}：各期数值</h2>
    ${ind.source_text ? html`<p class="muted small">原文：${ind.source_text}</p>` : null}
    <${Failure} error=${error} onRetry=${reload} />
    ${!values ? html`<${Loading} />` : values.length === 0 ? html`<${Empty}>尚未填报数值</${Empty}>` : null}
    ${values && values.length
      ? html`<table class="list"><thead><tr><th scope="col">周期</th><th scope="col" class="num">数值</th><th scope="col">来源</th><th scope="col">填报时间</th></tr></thead>
          <tbody>${values.map(
            (v) => html`<tr><td data-label="周期">${v.period}</td><td data-label="数值" class="num">${num(v.value, ind.unit)}</td>
              <td data-label="来源">${v.report_id ? "进展报告" : "直接填报"}</td><td data-label="填报时间">${fmtTime(v.reported_at)}</td></tr>`,
          )}</tbody></table>`
      : null}
    ${canReport
      ? html`<form class="inline-form" onSubmit=${add} aria-label="填报指标值" id="value-form">
          <label for="value-period">周期</label>
          <${PeriodField} id="value-period" cadence=${ind.cadence} value=${period} onChange=${setPeriod} />
          <label for="value-number">数值${ind.unit ? `（${ind.unit}）` : ""}</label>
          <input id="value-number" type="number" step="any" required value=${value} onInput=${(e) => setValue(e.target.value)} />
          <button type="submit" class="primary" disabled=${busy}>填报</button>
        </form>`
      : null}
    <${Msg} msg=${msg} />
  </section>`;
}
