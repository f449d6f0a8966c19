// 任务分解表: the plan by section, each task with its units and their states; the office assigns
// from here. Prints as the table itself (see the print styles).
import { html, useState, useEffect, useLoad, useAction, Msg, Failure, Loading, Empty, ROLE_LABELS, STATE_LABELS, fmtDate, isOffice, setTitle } from "../lib.js";
import { get, post, all, download } from "../api.js";
import { usePlans, PlanPicker } from "../plans.js";
import { DateField } from "../datefield.js";

async function load(planId) {
  const [plan, tasks, assignments] = await Promise.all([
    get(`/plans/${planId}`),
    all("/tasks", { plan_id: planId }, 5000),
    all("/assignments", { plan_id: planId, sort: "id" }, 20000),
  ]);
  const byTask = {};
  for (const a of assignments) (byTask[a.task_id] = byTask[a.task_id] || []).push(a);
  return { plan, tasks, byTask, count: assignments.length };
}

function cls(a) {
  if (a.overdue) return "tag red";
  if (a.state === "completed") return "tag green";
  if (a.state === "returned" || a.state === "completion_requested") return "tag yellow";
  return "tag";
}

export default function Breakdown({ user }) {
  const [plans, plan, plansError, reloadPlans] = usePlans();
  const [data, error, reload] = useLoad(() => (plan ? load(plan.id) : Promise.resolve(null)), [plan && plan.id]);
  const [assigning, setAssigning] = useState(null);
  const [run, busy, msg] = useAction();
  useEffect(() => setTitle("任务分解表"), []);
  if (plansError) return html`<${Failure} error=${plansError} onRetry=${reloadPlans} />`;
  if (plans && !plan) return html`<h1>任务分解表</h1><${Empty}>还没有计划。${isOffice(user) ? html` <a href="/app/intake">导入计划</a>` : null}</${Empty}>`;
  const office = isOffice(user);
  return html`<section aria-labelledby="bd-title">
    <div class="head">
      <h1 id="bd-title">任务分解表</h1>
      <div class="actions">
        <button type="button" onClick=${() => window.print()}>打印</button>
        ${plan ? html`<button type="button" disabled=${busy} onClick=${() => run(() => download(`/plans/${plan.id}/export.xlsx`, "任务分解表.xlsx"))}>导出 Excel</button>` : null}
      </div>
    </div>
    <${PlanPicker} plans=${plans} plan=${plan} />
    <${Msg} msg=${msg} />
    <${Failure} error=${error} onRetry=${reload} />
    ${!data ? html`<${Loading} />` : null}
    ${data
      ? html`${data.plan.state === "draft" && office
          ? html`<p class="msg warn no-print" id="draft-banner" role="status">该计划是草稿，尚未交办，各单位还看不到。<a href=${`/app/intake?plan=${data.plan.id}`}>核对并交办</a></p>`
          : null}
        ${data.plan.state === "superseded"
          ? html`<p class="msg warn" id="superseded-banner" role="status">该计划已被新版本替代，仅供查阅；未办结事项已随新版本发布撤销。</p>`
          : null}
        <p class="print-only"><strong>${data.plan.title}</strong> ${data.plan.doc_no || ""}</p>
        <p class="muted">共 ${data.tasks.length} 项任务、${data.count} 条交办事项；计划状态：${{ not_started: "未开始", in_progress: "推进中", overdue: "有逾期", completed: "已完成", draft: "草稿" }[data.plan.status.status] || data.plan.status.status}，逾期 ${data.plan.status.overdue} 条。</p>
        <table class="list breakdown" id="breakdown-table">
          <caption class="sr-only">${data.plan.title} 任务分解表</caption>
          <thead><tr><th scope="col">序号</th><th scope="col">任务</th><th scope="col">截止</th><th scope="col">责任单位及办理状态</th>${office ? html`<th scope="col" class="no-print">操作</th>` : null}</tr></thead>
          <tbody>
            ${[...data.plan.sections, ...(data.tasks.some((t) => !t.section_id && !t.parent_id) ? [{ id: null, code: "—", title: "未归入重点任务" }] : [])].map((sec) => {
              const tasks = data.tasks.filter((t) => (t.section_id || null) === sec.id && !t.parent_id);
              return html`<tr><th colspan=${office ? 5 : 4} class="section" scope="rowgroup">（${sec.code}）${sec.title}</th></tr>
                ${tasks.flatMap((t) => [t, ...data.tasks.filter((c) => c.parent_id === t.id)]).map(
                  (t) => html`<${TaskRow} key=${t.id} t=${t} items=${data.byTask[t.id] || []} office=${office}
                  open=${assigning === t.id} onOpen=${() => setAssigning(assigning === t.id ? null : t.id)} onDone=${() => (setAssigning(null), reload())} />`,
                )}`;
            })}
          </tbody>
        </table>`
      : null}
  </section>`;
}

function TaskRow({ t, items, office, open, onOpen, onDone }) {
  return html`<tr data-task=${t.id} class=${t.parent_id ? "subtask" : ""}>
      <td data-label="序号">${t.code}</td>
      <td data-label="任务">${t.title}${t.recurrence ? html` <small class="muted">（${{ annual: "每年", quarterly: "每季度", monthly: "每月" }[t.recurrence]}）</small>` : null}</td>
      <td data-label="截止">${fmtDate(t.due_date)}</td>
      <td data-label="责任单位">
        ${items.length === 0 ? html`<span class="muted">未交办</span>` : null}
        <ul class="units">
          ${items.map(
            (a) => html`<li><a href=${`/app/assignments/${a.id}`}>${a.unit_name}</a><small class="muted">（${ROLE_LABELS[a.role]}${a.period && a.period !== "all" ? " " + a.period : ""}）</small>
              <span class=${cls(a)}>${STATE_LABELS[a.state]}${a.overdue ? "·逾期" : ""}</span></li>`,
          )}
        </ul>
      </td>
      ${office ? html`<td class="no-print"><button type="button" data-assign=${t.id} aria-expanded=${open} onClick=${onOpen}>交办</button></td>` : null}
    </tr>
    ${open ? html`<tr class="no-print"><td colspan="5"><${AssignForm} t=${t} onDone=${onDone} /></td></tr>` : null}`;
}

function AssignForm({ t, onDone }) {
  const [units] = useLoad(() => all("/units", { is_active: true }, 2000), []);
  const [groups] = useLoad(() => get("/unit-groups"), []);
  const [chosen, setChosen] = useState([]);
  const [groupIds, setGroupIds] = useState([]);
  const [role, setRole] = useState("");
  const [due, setDue] = useState("");
  const [run, busy, msg] = useAction();
  const submit = async (e) => {
    e.preventDefault();
    const out = await run(
      () => post(`/tasks/${t.id}/assignments`, { unit_ids: chosen.map(Number), group_ids: groupIds.map(Number), role: role || null, due_date: due || null }),
      (r) => `已交办 ${r.created.length} 条${r.skipped ? `，${r.skipped} 条已存在` : ""}`,
    );
    if (out) setTimeout(onDone, 600);
  };
  const values = (e) => Array.from(e.target.selectedOptions).map((o) => o.value);
  return html`<form class="panel" onSubmit=${submit} aria-label=${`交办任务 ${t.code}`}>
    <p class="muted">不选单位则按任务原定的责任单位交办；已交办的单位不会重复生成。</p>
    <div class="field"><label for=${`assign-units-${t.id}`}>单位（可多选）</label>
      <select id=${`assign-units-${t.id}`} multiple size="6" onChange=${(e) => setChosen(values(e))}>
        ${(units || []).map((u) => html`<option value=${u.id}>${u.name}</option>`)}
      </select></div>
    ${groups && groups.length
      ? html`<div class="field"><label for=${`assign-groups-${t.id}`}>单位组</label>
          <select id=${`assign-groups-${t.id}`} multiple size="3" onChange=${(e) => setGroupIds(values(e))}>
            ${groups.map((g) => html`<option value=${g.id}>${g.name}</option>`)}
          </select></div>`
      : null}
    <div class="field inline"><label for=${`assign-role-${t.id}`}>角色</label>
      <select id=${`assign-role-${t.id}`} value=${role} onChange=${(e) => setRole(e.target.value)}>
        <option value="">（按任务设定）</option>
        ${Object.entries(ROLE_LABELS).map(([k, v]) => html`<option value=${k}>${v}</option>`)}
      </select>
      <label for=${`assign-due-${t.id}`}>截止日期</label>
      <${DateField} id=${`assign-due-${t.id}`} label="截止日期" value=${due} onChange=${setDue} />
    </div>
    <button type="submit" class="primary" disabled=${busy}>确认交办</button>
    <${Msg} msg=${msg} />
  </form>`;
}
