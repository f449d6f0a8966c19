// 提醒策略: when reminders and escalations go out and to whom (the default policy, or one plan's override).
import { html, useState, useEffect, useLoad, useAction, Msg, Failure, Loading, setTitle } from "../lib.js";
import { get, put } from "../api.js";
import { usePlans, PlanPicker } from "../plans.js";

const RECIPIENTS = { unit: "责任单位", unit_head: "单位负责人", office: "领导小组办公室", leader: "县领导" };
const CHANNELS = { inbox: "站内消息", email: "电子邮件", webhook: "Webhook", dingtalk: "钉钉", wecom: "企业微信" };

const nums = (s) => s.split(/[,，\s]+/).filter(Boolean).map(Number);

function Checks({ options, value, onChange, legend, id }) {
  return html`<fieldset><legend>${legend}</legend>${Object.entries(options).map(
    ([k, v]) => html`<label class="check" for=${`${id}-${k}`}><input type="checkbox" id=${`${id}-${k}`} checked=${value.includes(k)}
      onChange=${(e) => onChange(e.target.checked ? [...value, k] : value.filter((x) => x !== k))} /> ${v}</label> `,
  )}</fieldset>`;
}

export default function Policy() {
  const [plans, plan] = usePlans();
  const [scope, setScope] = useState("default");
  const path = scope === "plan" && plan ? `/plans/${plan.id}/notification-policy` : "/notification-policies/default";
  const [policy, error, reload] = useLoad(() => get(path), [path]);
  useEffect(() => setTitle("提醒策略"), []);
  return html`<section aria-labelledby="po-title">
    <h1 id="po-title">提醒与督办策略</h1>
    <div class="field inline">
      <label for="po-scope">适用范围</label>
      <select id="po-scope" value=${scope} onChange=${(e) => setScope(e.target.value)}><option value="default">默认（全部计划）</option><option value="plan">指定计划</option></select>
      ${scope === "plan" ? html`<${PlanPicker} plans=${plans} plan=${plan} />` : null}
    </div>
    <${Failure} error=${error} onRetry=${reload} />
    ${policy === undefined ? html`<${Loading} />` : policy ? html`<${Form} key=${path} policy=${policy} path=${path} onDone=${() => {}} />` : null}
  </section>`;
}

function Form({ policy, path, onDone }) {
  const [c, setC] = useState(policy.config);
  const [dueSoon, setDueSoon] = useState(policy.config.due_soon_working_days.join("，"));
  const [run, busy, msg] = useAction();
  const set = (k, v) => setC({ ...c, [k]: v });
  const level = (i, k, v) => set("escalation_levels", c.escalation_levels.map((l, j) => (j === i ? { ...l, [k]: v } : l)));
  const save = async (e) => {
    e.preventDefault();
    const out = await run(() => put(path, { ...c, due_soon_working_days: nums(dueSoon) }), "策略已保存");
    if (out) onDone();
  };
  return html`<form class="panel" onSubmit=${save} aria-label="提醒策略">
    <div class="field"><label for="po-due">到期前提醒（工作日，逗号分隔）</label><input id="po-due" value=${dueSoon} onInput=${(e) => setDueSoon(e.target.value)} /></div>
    <${Checks} id="po-due-to" legend="到期提醒发送给" options=${RECIPIENTS} value=${c.due_soon_recipients} onChange=${(v) => set("due_soon_recipients", v)} />
    <label class="check" for="po-overdue"><input id="po-overdue" type="checkbox" checked=${c.overdue_enabled} onChange=${(e) => set("overdue_enabled", e.target.checked)} /> 逾期时通知</label>
    <h2>逐级督办</h2>
    ${c.escalation_levels.map(
      (l, i) => html`<div class="field inline">
        <span>第 ${l.level} 级：逾期满</span>
        <label class="sr-only" for=${`po-l${i}`}>第 ${l.level} 级逾期工作日</label>
        <input id=${`po-l${i}`} type="number" min="0" value=${l.after_working_days} onInput=${(e) => level(i, "after_working_days", Number(e.target.value))} />
        <span>个工作日，通知 ${l.recipients.map((r) => RECIPIENTS[r] || r).join("、")}</span>
      </div>`,
    )}
    <label class="check" for="po-report"><input id="po-report" type="checkbox" checked=${c.report_reminders_enabled} onChange=${(e) => set("report_reminders_enabled", e.target.checked)} /> 进展报送提醒</label>
    <div class="field inline"><label for="po-report-days">报送截止前（工作日）</label><input id="po-report-days" type="number" min="0" max="30" value=${c.report_due_soon_working_days} onInput=${(e) => set("report_due_soon_working_days", Number(e.target.value))} /></div>
    <label class="check" for="po-digest"><input id="po-digest" type="checkbox" checked=${c.digest_enabled} onChange=${(e) => set("digest_enabled", e.target.checked)} /> 每个工作日发送待办汇总</label>
    <div class="field inline"><label for="po-digest-hour">汇总发送时间（点）</label><input id="po-digest-hour" type="number" min="0" max="23" value=${c.digest_hour} onInput=${(e) => set("digest_hour", Number(e.target.value))} /></div>
    <div class="field inline"><label for="po-digest-min">同一单位同类提醒达到（条）合并为一条</label><input id="po-digest-min" type="number" min="0" max="100000" value=${c.digest_min_items} onInput=${(e) => set("digest_min_items", Number(e.target.value))} /><span class="hint">首次扫描、批量导入或修改策略后整体扫描时适用；0 为逐条发送</span></div>
    <${Checks} id="po-ch" legend="发送渠道" options=${CHANNELS} value=${c.channels} onChange=${(v) => set("channels", v)} />
    <div class="buttons"><button type="submit" class="primary" id="save-policy" disabled=${busy}>保存</button></div>
    <${Msg} msg=${msg} onRefresh=${onDone} />
  </form>`;
}
