// 通报: generate a period's bulletin, preview it, download .docx/.xlsx, publish.
import { html, useState, useEffect, useLoad, useAction, Msg, Failure, Loading, Empty, fmtDate, fmtTime, setTitle } from "../lib.js";
import { get, post, download } from "../api.js";
import { usePlans, PlanPicker } from "../plans.js";
import { useQuery, setQuery } from "../nav.js";
import { Markdown } from "../markdown.js";
import { DateField } from "../datefield.js";

const KINDS = { week: "周报", month: "月报", quarter: "季报", half: "半年通报", year: "年度通报" };

export default function Bulletins() {
  const [plans, plan, plansError] = usePlans();
  const q = useQuery();
  const selected = Number(q.get("bulletin")) || null;
  const [list, error, reload] = useLoad(() => (plan ? get("/bulletins", { plan_id: plan.id, limit: 100 }) : Promise.resolve(null)), [plan && plan.id]);
  const [kind, setKind] = useState("month");
  const [start, setStart] = useState("");
  const [run, busy, msg] = useAction();
  useEffect(() => setTitle("通报"), []);
  const generate = async (e) => {
    e.preventDefault();
    const out = await run(() => post(`/plans/${plan.id}/bulletins`, { period_kind: kind, period_start: start || null }), (b) => `已生成：${b.title}`);
    if (out) (reload(), setQuery({ bulletin: out.id }));
  };
  if (plansError) return html`<${Failure} error=${plansError} />`;
  return html`<section aria-labelledby="bl-title">
    <h1 id="bl-title">定期通报</h1>
    <${PlanPicker} plans=${plans} plan=${plan} />
    ${plan
      ? html`<form class="panel inline-form" onSubmit=${generate} aria-label="生成通报">
          <label for="bl-kind">类型</label>
          <select id="bl-kind" value=${kind} onChange=${(e) => setKind(e.target.value)}>${Object.entries(KINDS).map(([k, v]) => html`<option value=${k}>${v}</option>`)}</select>
          <label for="bl-start">周期内任一日期（默认本期；往期按期末状态生成）</label>
          <${DateField} id="bl-start" label="周期内任一日期" value=${start} onChange=${setStart} />
          <button type="submit" class="primary" id="generate-bulletin" disabled=${busy}>${busy ? "正在生成…" : "生成通报"}</button>
        </form>`
      : null}
    <${Msg} msg=${msg} />
    <${Failure} error=${error} onRetry=${reload} />
    ${list === undefined ? html`<${Loading} />` : null}
    ${list && list.items.length === 0 ? html`<${Empty}>还没有通报</${Empty}>` : null}
    ${list && list.items.length
      ? html`<ul class="plain" id="bulletin-list">${list.items.map(
          (b) => html`<li><a href=${`/app/bulletins?plan=${plan.id}&bulletin=${b.id}`} aria-current=${b.id === selected ? "true" : undefined}>${b.title}</a>
            <small class="muted"> ${KINDS[b.period_kind] || b.period_kind} ${fmtDate(b.period_start)}—${fmtDate(b.period_end)} · ${b.published_at ? "已发布" : "草稿"}</small></li>`,
        )}</ul>`
      : null}
    ${selected ? html`<${Bulletin} key=${selected} id=${selected} onChange=${reload} />` : null}
  </section>`;
}

function Bulletin({ id, onChange }) {
  const [b, error, reload] = useLoad(() => get(`/bulletins/${id}`), [id]);
  const [run, busy, msg] = useAction();
  if (error) return html`<${Failure} error=${error} onRetry=${reload} />`;
  if (!b) return html`<${Loading} />`;
  const publish = async () => {
    const out = await run(() => post(`/bulletins/${b.id}/publish`), "通报已发布");
    if (out) (reload(), onChange());
  };
  return html`<article class="panel" id="bulletin-preview" aria-label="通报预览">
    <div class="buttons no-print">
      <button type="button" id="download-docx" disabled=${busy} onClick=${() => run(() => download(`/bulletins/${b.id}.docx`, `${b.title}.docx`), (n) => `已下载 ${n}`)}>下载 Word</button>
      <button type="button" id="download-xlsx" disabled=${busy} onClick=${() => run(() => download(`/bulletins/${b.id}.xlsx`, `${b.title}.xlsx`), (n) => `已下载 ${n}`)}>下载 Excel</button>
      ${b.published_at ? html`<span class="tag green">已于 ${fmtTime(b.published_at)} 发布</span>` : html`<button type="button" class="primary" id="publish-bulletin" disabled=${busy} onClick=${publish}>发布</button>`}
    </div>
    <${Msg} msg=${msg} />
    <${Markdown} text=${b.markdown} />
  </article>`;
}
