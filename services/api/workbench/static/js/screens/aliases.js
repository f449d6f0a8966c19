// 单位别名: other names the plan texts use for a unit (e.g. 科技局 → 县科技局), so imports resolve them.
import { html, hasRole, useState, useEffect, useLoad, useAction, Msg, Failure, Loading, Empty, setTitle } from "../lib.js";
import { get, post, del, all } from "../api.js";

export default function Aliases({ user }) {
  const admin = hasRole(user, "admin");
  const [data, error, reload] = useLoad(async () => {
    const [aliases, units] = await Promise.all([get("/unit-aliases"), all("/units", {}, 5000)]);
    return { aliases, units, names: Object.fromEntries(units.map((u) => [u.id, u.name])) };
  }, []);
  const [alias, setAlias] = useState("");
  const [unitId, setUnitId] = useState("");
  const [run, busy, msg] = useAction();
  useEffect(() => setTitle("单位别名"), []);
  const create = async (e) => {
    e.preventDefault();
    const out = await run(() => post("/unit-aliases", { alias, unit_id: Number(unitId) }), "已添加");
    if (out) (setAlias(""), reload());
  };
  return html`<section aria-labelledby="al-title">
    <h1 id="al-title">单位别名</h1>
    <p class="muted">导入计划时，文中出现的别名会识别为对应的单位。</p>
    ${admin ? html`<form class="panel inline-form" onSubmit=${create} aria-label="添加别名">
      <label for="al-alias">别名</label><input id="al-alias" required value=${alias} onInput=${(e) => setAlias(e.target.value)} />
      <label for="al-unit">对应单位</label>
      <select id="al-unit" required value=${unitId} onChange=${(e) => setUnitId(e.target.value)}>
        <option value="">请选择</option>${data ? data.units.map((u) => html`<option value=${u.id}>${u.name}</option>`) : null}
      </select>
      <button type="submit" class="primary" disabled=${busy}>添加</button>
    </form>` : html`<p class="muted">只有系统管理员可以修改。</p>`}
    <${Msg} msg=${msg} />
    <${Failure} error=${error} onRetry=${reload} />
    ${!data ? html`<${Loading} />` : data.aliases.length === 0 ? html`<${Empty}>暂无别名</${Empty}>` : html`<table class="list">
      <thead><tr><th scope="col">别名</th><th scope="col">单位</th><th scope="col">操作</th></tr></thead>
      <tbody>${data.aliases.map(
        (a) => html`<tr><td data-label="别名">${a.alias}</td><td data-label="单位">${data.names[a.unit_id] || a.unit_id}</td>
          <td data-label="操作">${admin ? html`<button type="button" disabled=${busy} onClick=${() => run(() => del(`/unit-aliases/${a.id}`), "已删除").then(reload)}>删除</button>` : "—"}</td></tr>`,
      )}</tbody></table>`}
  </section>`;
}
