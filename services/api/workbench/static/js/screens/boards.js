// 看板链接: read-only board tokens for wall screens (the token shown once), and revoking them.
import { html, useState, useEffect, useLoad, useAction, Msg, Failure, Loading, Empty, fmtTime, setTitle } from "../lib.js";
import { get, post, del, all } from "../api.js";

export default function Boards() {
  const [data, error, reload] = useLoad(async () => {
    const [tokens, plans] = await Promise.all([get("/board-tokens"), all("/plans", {}, 200)]);
    return { tokens: tokens.items, plans };
  }, []);
  const [name, setName] = useState("");
  const [planId, setPlanId] = useState("");
  const [made, setMade] = useState(null);
  const [run, busy, msg] = useAction();
  useEffect(() => setTitle("看板链接"), []);
  const create = async (e) => {
    e.preventDefault();
    const out = await run(() => post("/board-tokens", { name, plan_id: planId ? Number(planId) : null }), "已创建");
    if (out) (setMade(out), setName(""), reload());
  };
  const planTitle = (id) => (data && data.plans.find((p) => p.id === id) || {}).title || `计划 ${id}`;
  const link = made ? new URL(made.board_url, location.origin).href : null;
  return html`<section aria-labelledby="bt-title">
    <h1 id="bt-title">看板链接</h1>
    <p class="muted">大屏或领导手机上打开的只读看板，无需登录；链接可随时作废。</p>
    <form class="panel" onSubmit=${create} aria-label="新建看板链接" id="board-form">
      <div class="field inline">
        <label for="bt-name">名称</label><input id="bt-name" required maxlength="100" placeholder="如：县政府会议室大屏" value=${name} onInput=${(e) => setName(e.target.value)} />
        <label for="bt-plan">计划</label>
        <select id="bt-plan" value=${planId} onChange=${(e) => setPlanId(e.target.value)}>
          <option value="">全部计划</option>
          ${(data ? data.plans : []).map((p) => html`<option value=${p.id}>${p.title}</option>`)}
        </select>
      </div>
      <button type="submit" class="primary" disabled=${busy}>创建链接</button>
    </form>
    ${made
      ? html`<div class="msg ok" role="status" id="board-link">看板地址（只显示这一次，请复制保存）：<code class="secret">${link}</code>
          <a href=${link} target="_blank" rel="noopener">打开看板</a></div>`
      : null}
    <${Msg} msg=${msg} />
    <${Failure} error=${error} onRetry=${reload} />
    ${!data ? html`<${Loading} />` : data.tokens.length === 0 ? html`<${Empty}>还没有看板链接</${Empty}>` : null}
    ${data && data.tokens.length
      ? html`<table class="list" id="board-tokens">
          <caption class="sr-only">看板链接</caption>
          <thead><tr><th scope="col">名称</th><th scope="col">计划</th><th scope="col">创建</th><th scope="col">最近使用</th><th scope="col">状态</th></tr></thead>
          <tbody>${data.tokens.map((t) => html`<${Token} key=${t.id} t=${t} planTitle=${planTitle} onDone=${reload} />`)}</tbody>
        </table>`
      : null}
  </section>`;
}

function Token({ t, planTitle, onDone }) {
  const [run, busy, msg] = useAction();
  const revoke = () => run(() => del(`/board-tokens/${t.id}`), "已作废").then((o) => o !== undefined && onDone());
  return html`<tr data-token=${t.id}>
    <td data-label="名称">${t.name}</td>
    <td data-label="计划">${t.plan_id ? planTitle(t.plan_id) : "全部计划"}</td>
    <td data-label="创建">${fmtTime(t.created_at)}</td>
    <td data-label="最近使用">${t.last_used_at ? fmtTime(t.last_used_at) : "未使用"}</td>
    <td data-label="状态">${t.revoked_at
      ? html`<span class="tag">已作废 ${fmtTime(t.revoked_at)}</span>`
      : html`<span class="tag green">有效</span> <button type="button" disabled=${busy} onClick=${revoke}>作废</button>`}
      <${Msg} msg=${msg} /></td>
  </tr>`;
}
