// Webhook: endpoints for the OA system and chat robots (the secret shown once), and failed deliveries to re-drive.
import { html, useState, useEffect, useLoad, useAction, Msg, Failure, Loading, Empty, fmtTime, setTitle } from "../lib.js";
import { post, patch, del, all, ifMatch } from "../api.js";

const KINDS = { webhook: "Webhook（Standard Webhooks 签名）", dingtalk: "钉钉机器人", wecom: "企业微信机器人" };

export default function Webhooks() {
  const [data, error, reload] = useLoad(async () => {
    const [hooks, dead] = await Promise.all([all("/webhooks", {}, 500), all("/deliveries", { status: "failed" }, 200)]);
    return { hooks, dead };
  }, []);
  const [url, setUrl] = useState("");
  const [kind, setKind] = useState("webhook");
  const [description, setDescription] = useState("");
  const [secret, setSecret] = useState(null);
  const [run, busy, msg] = useAction();
  useEffect(() => setTitle("Webhook"), []);
  const create = async (e) => {
    e.preventDefault();
    const out = await run(() => post("/webhooks", { url, kind, description: description || null }), "已添加");
    if (out) (setSecret(out.secret), setUrl(""), reload());
  };
  return html`<section aria-labelledby="wh-title">
    <h1 id="wh-title">Webhook 与机器人</h1>
    <form class="panel" onSubmit=${create} aria-label="添加推送地址">
      <div class="field"><label for="wh-url">推送地址</label><input id="wh-url" type="url" required value=${url} onInput=${(e) => setUrl(e.target.value)} /></div>
      <div class="field inline"><label for="wh-kind">类型</label>
        <select id="wh-kind" value=${kind} onChange=${(e) => setKind(e.target.value)}>${Object.entries(KINDS).map(([k, v]) => html`<option value=${k}>${v}</option>`)}</select>
        <label for="wh-desc">说明</label><input id="wh-desc" value=${description} onInput=${(e) => setDescription(e.target.value)} /></div>
      <button type="submit" class="primary" disabled=${busy}>添加</button>
    </form>
    ${secret ? html`<p class="msg ok" role="status">签名密钥（只显示这一次，请妥善保存）：<code>${secret}</code></p>` : null}
    <${Msg} msg=${msg} />
    <${Failure} error=${error} onRetry=${reload} />
    ${!data ? html`<${Loading} />` : null}
    ${data && data.hooks.length === 0 ? html`<${Empty}>尚未配置推送地址</${Empty}>` : null}
    ${data && data.hooks.length
      ? html`<table class="list"><thead><tr><th scope="col">地址</th><th scope="col">类型</th><th scope="col">事件</th><th scope="col">状态</th><th scope="col">操作</th></tr></thead>
        <tbody>${data.hooks.map((h) => html`<${Hook} key=${h.id + ":" + h.version} h=${h} onDone=${reload} onSecret=${setSecret} />`)}</tbody></table>`
      : null}
    ${data && data.dead.length
      ? html`<h2>投递失败（${data.dead.length}）</h2>
        <ul class="plain">${data.dead.map((d) => html`<${Dead} key=${d.id} d=${d} onDone=${reload} />`)}</ul>`
      : null}
  </section>`;
}

function Hook({ h, onDone, onSecret }) {
  const [run, busy, msg] = useAction();
  const update = (body, ok) => run(() => patch(`/webhooks/${h.id}`, body, ifMatch("webhook", h)), ok).then((o) => o && (o.secret && onSecret(o.secret), onDone()));
  return html`<tr>
    <td data-label="地址"><code>${h.url}</code>${h.description ? html`<div class="muted small">${h.description}</div>` : null}</td>
    <td data-label="类型">${KINDS[h.kind] || h.kind}</td>
    <td data-label="事件">${h.event_types.length ? h.event_types.join("、") : "全部"}</td>
    <td data-label="状态">${h.is_active ? "启用" : "停用"}</td>
    <td data-label="操作"><div class="buttons">
      <button type="button" disabled=${busy} onClick=${() => update({ is_active: !h.is_active }, "已保存")}>${h.is_active ? "停用" : "启用"}</button>
      <button type="button" disabled=${busy} onClick=${() => update({ rotate_secret: true }, "已更换密钥")}>更换密钥</button>
      <button type="button" disabled=${busy} onClick=${() => confirm("删除该推送地址？") && run(() => del(`/webhooks/${h.id}`), "已删除").then(onDone)}>删除</button>
    </div><${Msg} msg=${msg} onRefresh=${onDone} /></td>
  </tr>`;
}

function Dead({ d, onDone }) {
  const [run, busy, msg] = useAction();
  return html`<li class="card">${d.channel} · ${d.event_type || ""} · 尝试 ${d.attempts} 次 · ${fmtTime(d.updated_at || d.created_at)}
    ${d.last_error ? html`<div class="muted small">${d.last_error}</div>` : null}
    <button type="button" disabled=${busy} onClick=${() => run(() => post(`/deliveries/${d.id}/redrive`), "已重新投递").then((o) => o && onDone())}>重新投递</button>
    <${Msg} msg=${msg} /></li>`;
}
