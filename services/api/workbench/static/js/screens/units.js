// 单位: the responsible units — add, rename, change kind, deactivate.
import { html, hasRole, useState, useEffect, useLoad, useAction, Msg, Failure, Loading, UNIT_KIND_LABELS, setTitle } from "../lib.js";
import { post, patch, del, all, ifMatch } from "../api.js";

export default function Units({ user }) {
  const admin = hasRole(user, "admin");
  const [units, error, reload] = useLoad(() => all("/units", {}, 5000), []);
  const [name, setName] = useState("");
  const [kind, setKind] = useState("department");
  const [run, busy, msg] = useAction();
  useEffect(() => setTitle("单位"), []);
  const create = async (e) => {
    e.preventDefault();
    const out = await run(() => post("/units", { name, kind }), (u) => `已添加 ${u.name}`);
    if (out) (setName(""), reload());
  };
  return html`<section aria-labelledby="un-title">
    <h1 id="un-title">责任单位</h1>
    ${admin ? html`<form class="panel inline-form" onSubmit=${create} aria-label="添加单位">
      <label for="unit-name">名称</label><input id="unit-name" required value=${name} onInput=${(e) => setName(e.target.value)} />
      <label for="unit-kind">类型</label>
      <select id="unit-kind" value=${kind} onChange=${(e) => setKind(e.target.value)}>${Object.entries(UNIT_KIND_LABELS).map(([k, v]) => html`<option value=${k}>${v}</option>`)}</select>
      <button type="submit" class="primary" disabled=${busy}>添加</button>
    </form>` : html`<p class="muted">只有系统管理员可以修改。</p>`}
    <${Msg} msg=${msg} />
    <${Failure} error=${error} onRetry=${reload} />
    ${!units ? html`<${Loading} />` : html`<table class="list" id="units-table">
      <caption class="sr-only">单位列表（${units.length}）</caption>
      <thead><tr><th scope="col">名称</th><th scope="col">简称</th><th scope="col">类型</th><th scope="col">状态</th><th scope="col">操作</th></tr></thead>
      <tbody>${units.map((u) => html`<${Row} key=${u.id + ":" + u.version} u=${u} admin=${admin} onDone=${reload} />`)}</tbody>
    </table>`}
  </section>`;
}

function Row({ u, admin, onDone }) {
  const [edit, setEdit] = useState(false);
  const [name, setName] = useState(u.name);
  const [short, setShort] = useState(u.short_name || "");
  const [kind, setKind] = useState(u.kind);
  const [run, busy, msg] = useAction();
  const save = (body) => run(() => patch(`/units/${u.id}`, body, ifMatch("unit", u)), "已保存").then((o) => o && onDone());
  const remove = () => confirm(`删除单位「${u.name}」？`) && run(() => del(`/units/${u.id}`), "已删除").then((o) => o !== undefined && onDone());
  if (edit)
    return html`<tr><td colspan="5"><form class="inline-form" onSubmit=${(e) => (e.preventDefault(), save({ name, short_name: short || null, kind }))} aria-label=${`编辑 ${u.name}`}>
      <label class="sr-only" for=${`un-${u.id}`}>名称</label><input id=${`un-${u.id}`} value=${name} onInput=${(e) => setName(e.target.value)} />
      <label class="sr-only" for=${`us-${u.id}`}>简称</label><input id=${`us-${u.id}`} placeholder="简称" value=${short} onInput=${(e) => setShort(e.target.value)} />
      <label class="sr-only" for=${`uk-${u.id}`}>类型</label>
      <select id=${`uk-${u.id}`} value=${kind} onChange=${(e) => setKind(e.target.value)}>${Object.entries(UNIT_KIND_LABELS).map(([k, v]) => html`<option value=${k}>${v}</option>`)}</select>
      <button type="submit" class="primary" disabled=${busy}>保存</button><button type="button" onClick=${() => setEdit(false)}>取消</button>
      <${Msg} msg=${msg} onRefresh=${onDone} /></form></td></tr>`;
  return html`<tr>
    <td data-label="名称">${u.name}</td><td data-label="简称">${u.short_name || "—"}</td><td data-label="类型">${UNIT_KIND_LABELS[u.kind] || u.kind}</td>
    <td data-label="状态">${u.is_active ? "启用" : html`<span class="tag">停用</span>`}</td>
    <td data-label="操作">${admin ? html`<div class="buttons">
      <button type="button" onClick=${() => setEdit(true)}>编辑</button>
      <button type="button" disabled=${busy} onClick=${() => save({ is_active: !u.is_active })}>${u.is_active ? "停用" : "启用"}</button>
      <button type="button" disabled=${busy} onClick=${remove}>删除</button></div>` : html`<span class="muted">—</span>`}
      <${Msg} msg=${msg} onRefresh=${onDone} /></td>
  </tr>`;
}
