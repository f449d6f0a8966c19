// The plan picker shared by the office and leader screens; the choice lives in the URL (?plan=).
import { html, useLoad, setZone } from "./lib.js";
import { all } from "./api.js";
import { useQuery, setQuery } from "./nav.js";

export function usePlans() {
  const [plans, error, reload] = useLoad(() => all("/plans", {}, 200), []);
  const q = useQuery();
  const wanted = Number(q.get("plan")) || null;
  const plan = plans ? plans.find((p) => p.id === wanted) || plans[plans.length - 1] || null : undefined;
  // Times on a plan's screens are that plan's local times.
  if (plan) setZone(plan.timezone);
  return [plans, plan, error, reload];
}

export function PlanPicker({ plans, plan }) {
  if (!plans || plans.length < 2) return plan ? html`<p class="muted">${plan.title}</p>` : null;
  return html`<div class="field inline no-print">
    <label for="plan-picker">计划</label>
    <select id="plan-picker" value=${plan ? plan.id : ""} onChange=${(e) => setQuery({ plan: e.target.value })}>
      ${plans.map((p) => html`<option value=${p.id}>${p.title}</option>`)}
    </select>
  </div>`;
}
