// 服务账号 (administrators): API keys for integrations such as the OA system, with their scopes;
// the key is shown once, and can be revoked.
import { html, useState, useEffect, useLoad, useAction, Msg, Failure, Loading, Empty, fmtTime, setTitle } from "../lib.js";
import { get, post, del } from "../api.js";
import { DateField } from "../datefield.js";

const SCOPES = {
  "tasks:read": "读取计划、任务与交办",
  "tasks:write": "办理（交办、审核、填报）",
  "plans:import": "导入计划",
  "webhooks:manage": "管理 Webhook",
  "users:manage": "管理用户",
  "units:manage": "管理单位",
  "audit:read": "读取审计日志",
};

export default function Accounts() {
  // One row per key, newest first within each account (the API lists accounts with their keys).
  const [keys, error, reload] = useLoad(() => get("/service-accounts").then((accounts) => accounts.flatMap((a) => a.keys)), []);
  const [name, setName] = useState("");
  const [fullName, setFullName] = useState("");
  const [scopes, setScopes] = useState(["tasks:read"]);
  const [expires, setExpires] = useState("");
  const [made, setMade] = useState(null);
  const [run, busy, msg] = useAction();
  useEffect(() => setTitle("服务账号"), []);
  const toggle = (s) => setScopes(scopes.includes(s) ? scopes.filter((x) => x !== s) : [...scopes, s]);
  const create = async (e) => {
    e.preventDefault();
    // The end of the chosen day in China Standard Time (the plan's zone), as an instant.
    const body = { name, full_name: fullName || null, scopes, expires_at: expires ? `${expires}T23:59:59+08:00` : null };
    const out = await run(() => post("/service-accounts", body), "已创建");
    if (out) (setMade(out), setName(""), setFullName(""), reload());
  };
  return html`<section aria-labelledby="sa-title">
    <h1 id="sa-title">服务账号</h1>
    <p class="muted">供 OA 等系统对接使用的 API 密钥，只能访问所授权限范围内的接口。</p>
    <form class="panel" onSubmit=${create} aria-label="新建服务账号" id="account-form">
      <div class="field inline">
        <label for="sa-name">账号名</label><input id="sa-name" required pattern="[A-Za-z0-9_.\\-]+" maxlength="64" placeholder="如 oa-sync" value=${name} onInput=${(e) => setName(e.target.value)} />
        <label for="sa-full">说明</label><input id="sa-full" maxlength="100" placeholder="如：县OA系统" value=${fullName} onInput=${(e) => setFullName(e.target.value)} />
        <label for="sa-exp">有效期至</label><${DateField} id="sa-exp" label="有效期至" value=${expires} onChange=${setExpires} />
      </div>
      <fieldset><legend>权限范围</legend>
        ${Object.entries(SCOPES).map(
          ([s, label]) => html`<label class="check"><input type="checkbox" checked=${scopes.includes(s)} onChange=${() => toggle(s)} /> ${label} <code>${s}</code></label> `,
        )}
      </fieldset>
      <button type="submit" class="primary" disabled=${busy || scopes.length === 0}>创建</button>
    </form>
    ${made ? html`<p class="msg ok" role="status" id="api-key">API 密钥（只显示这一次，请妥善保存）：<code class="secret">${made.api_key}</code></p>` : null}
    <${Msg} msg=${msg} />
    <${Failure} error=${error} onRetry=${reload} />
    ${!keys ? html`<${Loading} />` : keys.length === 0 ? html`<${Empty}>还没有服务账号</${Empty}>` : null}
    ${keys && keys.length
      ? html`<table class="list" id="accounts-table">
          <caption class="sr-only">服务账号</caption>
          <thead><tr><th scope="col">账号</th><th scope="col">权限</th><th scope="col">创建</th><th scope="col">最近使用</th><th scope="col">状态</th></tr></thead>
          <tbody>${keys.map((k) => html`<${Key} key=${k.id} k=${k} onDone=${reload} />`)}</tbody>
        </table>`
      : null}
  </section>`;
}

function Key({ k, onDone }) {
  const [run, busy, msg] = useAction();
  const revoke = () => run(() => del(`/service-accounts/${k.id}`), "已吊销").then((o) => o !== undefined && onDone());
  return html`<tr data-key=${k.id}>
    <td data-label="账号">${k.name} <small class="muted"><code>${k.prefix}…</code></small></td>
    <td data-label="权限">${k.scopes.map((s) => SCOPES[s] || s).join("、")}</td>
    <td data-label="创建">${fmtTime(k.created_at)}${k.expires_at ? html`<div class="muted small">有效期至 ${fmtTime(k.expires_at)}</div>` : null}</td>
    <td data-label="最近使用">${k.last_used_at ? html`${fmtTime(k.last_used_at)}${k.last_used_address ? html`<div class="muted small">${k.last_used_address}</div>` : null}` : "未使用"}</td>
    <td data-label="状态">${k.revoked_at
      ? html`<span class="tag">已吊销</span>`
      : !k.active
      ? html`<span class="tag">已过期</span>`
      : html`<span class="tag green">${k.rotated_at ? "过渡期内有效" : "有效"}</span> <button type="button" disabled=${busy} onClick=${revoke}>吊销</button>`}
      <${Msg} msg=${msg} /></td>
  </tr>`;
}
