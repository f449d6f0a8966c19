// 态势: the plan's red/yellow/green picture by section and by unit (stats API), drilling down
// section → task → the units' assignments → one assignment's history (where a leader issues 批示).
import { html, useState, useEffect, useLoad, useAction, Msg, hasRole, Failure, Loading, RagDot, RAG_LABELS, STATE_LABELS, ROLE_LABELS, fmtDate, dueText, setTitle } from "../lib.js";
import { get, all, post } from "../api.js";
import { usePlans, PlanPicker } from "../plans.js";
import { useQuery, setQuery } from "../nav.js";
import { DateField } from "../datefield.js";

async function load(planId) {
  const [plan, sections, units, tasks, overdue] = await Promise.all([
    get(`/stats/plans/${planId}`),
    get(`/stats/plans/${planId}/sections`),
    get(`/stats/plans/${planId}/units`),
    get(`/stats/plans/${planId}/tasks`),
    get(`/stats/plans/${planId}/overdue`, { limit: 20 }),
  ]);
  return { plan, sections: sections.items, units: units.items, tasks: tasks.items, overdue: overdue.items || overdue };
}

const counts = (r) => `交办 ${r.total} · 办结 ${r.completed} · 在办 ${r.open} · 逾期 ${r.overdue}`;

function Tile({ r, title, selected, onSelect, id }) {
  return html`<li class=${"tile " + r.rag} data-rag=${r.rag} id=${id}>
    <h3><${RagDot} rag=${r.rag} /> ${onSelect ? html`<button type="button" class="link" aria-expanded=${selected} onClick=${onSelect}>${title}</button>` : title}</h3>
    <p class="small">${counts(r)}</p>
    <p class="small muted">${r.rag_reason}</p>
  </li>`;
}

export default function Overview({ user }) {
  const [plans, plan, plansError] = usePlans();
  const q = useQuery();
  const section = Number(q.get("section")) || null;
  const task = Number(q.get("task")) || null;
  const unit = Number(q.get("unit")) || null;
  const [data, error, reload] = useLoad(() => (plan ? load(plan.id) : Promise.resolve(null)), [plan && plan.id]);
  useEffect(() => setTitle("态势"), []);
  if (plansError) return html`<${Failure} error=${plansError} />`;
  if (error) return html`<${Failure} error=${error} onRetry=${reload} />`;
  if (!data) return html`<${Loading} />`;
  const p = data.plan;
  return html`<section aria-labelledby="ov-title">
    <div class="head"><h1 id="ov-title">推进态势</h1><button type="button" onClick=${reload}>刷新</button></div>
    <${PlanPicker} plans=${plans} plan=${plan} />
    <div class=${"tile " + p.rag} id="plan-rag" data-rag=${p.rag}>
      <h2><${RagDot} rag=${p.rag} /> ${plan.title}：${RAG_LABELS[p.rag]}</h2>
      <p>${counts(p)}；最长逾期 ${p.overdue_working_days_max} 个工作日。${p.rag_reason}</p>
    </div>
    <h2>按重点任务</h2>
    <ul class="grid plain" id="section-tiles">
      ${data.sections.map(
        (s) => html`<${Tile} key=${s.id} r=${s} title=${`（${s.code}）${s.name}`} selected=${section === s.id}
          onSelect=${() => setQuery({ section: section === s.id ? null : s.id, task: null })} />`,
      )}
    </ul>
    ${section
      ? html`<div class="panel" id="section-tasks">
          <h3>任务</h3>
          <ul class="grid plain">
            ${data.tasks.filter((t) => t.section_id === section).map(
              (t) => html`<${Tile} key=${t.id} r=${t} title=${`${t.code}. ${t.name}`} selected=${task === t.id} onSelect=${() => setQuery({ task: task === t.id ? null : t.id })} />`,
            )}
          </ul>
          ${task ? html`<${Assignments} query=${{ task_id: task }} />` : null}
          ${task && hasRole(user, "leader") ? html`<${TaskInstruction} key=${task} taskId=${task} />` : null}
        </div>`
      : null}
    <h2>按责任单位</h2>
    <ul class="grid plain" id="unit-tiles">
      ${data.units.map((u) => html`<${Tile} key=${u.id} r=${u} title=${u.name} selected=${unit === u.id} onSelect=${() => setQuery({ unit: unit === u.id ? null : u.id })} />`)}
    </ul>
    ${unit ? html`<div class="panel"><${Assignments} query=${{ plan_id: plan.id, unit_id: unit }} /></div>` : null}
    <h2>逾期事项</h2>
    <table class="list" id="overdue-list">
      <thead><tr><th scope="col">任务</th><th scope="col">单位</th><th scope="col">截止</th><th scope="col">逾期</th></tr></thead>
      <tbody>${data.overdue.map(
        (o) => html`<tr><td data-label="任务"><a href=${`/app/assignments/${o.assignment_id}`}>${o.task_code}. ${o.task_title}</a></td>
          <td data-label="单位">${o.unit_name}</td><td data-label="截止">${fmtDate(o.due_date)}</td><td data-label="逾期" class="red-text">${o.reason}</td></tr>`,
      )}</tbody>
    </table>
  </section>`;
}

function Assignments({ query }) {
  const [items, error] = useLoad(() => all("/assignments", { ...query, sort: "due_date" }, 2000), [JSON.stringify(query)]);
  if (error) return html`<${Failure} error=${error} />`;
  if (!items) return html`<${Loading} />`;
  return html`<table class="list drill">
    <caption class="sr-only">交办事项</caption>
    <thead><tr><th scope="col">任务</th><th scope="col">单位</th><th scope="col">状态</th><th scope="col">时限</th></tr></thead>
    <tbody>${items.map(
      (a) => html`<tr><td data-label="任务"><a href=${`/app/assignments/${a.id}`}>${a.task_code}. ${a.task_title}</a></td>
        <td data-label="单位">${a.unit_name}（${ROLE_LABELS[a.role]}）</td>
        <td data-label="状态">${STATE_LABELS[a.state]}</td><td data-label="时限" class=${a.overdue ? "red-text" : ""}>${dueText(a)}</td></tr>`,
    )}</tbody>
  </table>`;
}

// A 批示 on the whole task: every unit the task is assigned to must answer it.
function TaskInstruction({ taskId }) {
  const [text, setText] = useState("");
  const [due, setDue] = useState("");
  const [run, busy, msg] = useAction();
  const issue = async (e) => {
    e.preventDefault();
    const out = await run(() => post(`/tasks/${taskId}/instructions`, { text, reply_due_date: due || null }), (i) => `批示已发给 ${i.unit_ids.length} 个责任单位`);
    if (out) setText("");
  };
  return html`<form class="panel" id="task-instruction-form" onSubmit=${issue} aria-label="对该任务作出批示">
    <div class="field"><label for="task-ins-text">对该任务作出批示（发给全部责任单位）</label>
      <textarea id="task-ins-text" rows="3" required value=${text} onInput=${(e) => setText(e.target.value)}></textarea></div>
    <div class="field inline"><label for="task-ins-due">回复期限（可不填）</label><${DateField} id="task-ins-due" label="回复期限" value=${due} onChange=${setDue} /></div>
    <button type="submit" class="primary" disabled=${busy}>发出批示</button>
    <${Msg} msg=${msg} />
  </form>`;
}
