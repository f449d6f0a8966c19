// 用户: accounts, their unit and roles; create, change roles or unit, reset password, disable.
import { html, hasRole, useState, useEffect, useLoad, useAction, Msg, Failure, Loading, USER_ROLE_LABELS, fmtTime, setTitle } from "../lib.js";
import { post, patch, all, ifMatch } from "../api.js";

const ROLES = ["office", "leader", "unit_head", "unit_staff", "viewer", "admin"];

function RolePicker({ value, onChange, idPrefix, roles = ROLES }) {
  return html`<fieldset class="roles"><legend>角色</legend>
    ${roles.map(
      (r) => html`<label class="check" for=${`${idPrefix}-${r}`}><input type="checkbox" id=${`${idPrefix}-${r}`} checked=${value.includes(r)}
        onChange=${(e) => onChange(e.target.checked ? [...value, r] : value.filter((x) => x !== r))} /> ${USER_ROLE_LABELS[r]}</label>`,
    )}
  </fieldset>`;
}

function UnitSelect({ units, value, onChange, id }) {
  return html`<select id=${id} value=${value || ""} onChange=${(e) => onChange(e.target.value ? Number(e.target.value) : null)}>
    <option value="">（无单位）</option>${(units || []).map((u) => html`<option value=${u.id}>${u.name}</option>`)}
  </select>`;
}

export default function Users({ user }) {
  // A unit head (not an administrator) manages the unit's own staff: that unit, that role.
  const head = !hasRole(user, "admin");
  const roles = head ? ["unit_staff"] : ROLES;
  const [data, error, reload] = useLoad(async () => {
    const [users, units] = await Promise.all([all("/users", {}, 5000), all("/units", {}, 5000)]);
    return { users: users.filter((u) => !u.is_service_account), units, names: Object.fromEntries(units.map((u) => [u.id, u.name])) };
  }, []);
  const [form, setForm] = useState({ username: "", full_name: "", password: "", roles: ["unit_staff"], unit_id: head ? user.unit_id : null });
  const [run, busy, msg] = useAction();
  useEffect(() => setTitle("用户"), []);
  const create = async (e) => {
    e.preventDefault();
    const out = await run(() => post("/users", form), (u) => `已创建用户 ${u.username}`);
    if (out) (setForm({ ...form, username: "", full_name: "", password: "" }), reload());
  };
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  return html`<section aria-labelledby="us-title">
    <h1 id="us-title">${head ? "本单位人员" : "用户"}</h1>
    <form class="panel" onSubmit=${create} aria-label="新建用户">
      <div class="field inline">
        <label for="nu-username">用户名</label><input id="nu-username" required autocomplete="off" value=${form.username} onInput=${set("username")} />
        <label for="nu-name">姓名</label><input id="nu-name" value=${form.full_name} onInput=${set("full_name")} />
        <label for="nu-password">初始密码</label><input id="nu-password" type="password" autocomplete="new-password" required value=${form.password} onInput=${set("password")} />
        ${head ? null : html`<label for="nu-unit">单位</label><${UnitSelect} id="nu-unit" units=${data && data.units} value=${form.unit_id} onChange=${(v) => setForm({ ...form, unit_id: v })} />`}
      </div>
      <${RolePicker} idPrefix="nu-role" roles=${roles} value=${form.roles} onChange=${(r) => setForm({ ...form, roles: r })} />
      <button type="submit" class="primary" disabled=${busy}>创建</button>
    </form>
    <${Msg} msg=${msg} />
    <${Failure} error=${error} onRetry=${reload} />
    ${!data ? html`<${Loading} />` : html`<table class="list" id="users-table">
      <caption class="sr-only">用户列表</caption>
      <thead><tr><th scope="col">用户名</th><th scope="col">姓名</th><th scope="col">单位</th><th scope="col">角色</th><th scope="col">最近登录</th><th scope="col">操作</th></tr></thead>
      <tbody>${data.users.map((u) => html`<${Row} key=${u.id + ":" + u.version} u=${u} data=${data} roles=${roles} head=${head} onDone=${reload} />`)}</tbody>
    </table>`}
  </section>`;
}

function Row({ u, data, roles: allowed, head, onDone }) {
  const [edit, setEdit] = useState(false);
  const [roles, setRoles] = useState(u.roles);
  const [unitId, setUnitId] = useState(u.unit_id);
  const [password, setPassword] = useState("");
  const [run, busy, msg] = useAction();
  const save = (body) => run(() => patch(`/users/${u.id}`, body, ifMatch("user", u)), "已保存").then((o) => o && onDone());
  if (edit)
    return html`<tr><td colspan="6"><form onSubmit=${(e) => (e.preventDefault(), save({ roles, unit_id: unitId, ...(password ? { password } : {}) }))} aria-label=${`编辑 ${u.username}`}>
      <div class="field inline"><strong>${u.username}</strong>
        ${head ? null : html`<label for=${`eu-unit-${u.id}`}>单位</label><${UnitSelect} id=${`eu-unit-${u.id}`} units=${data.units} value=${unitId} onChange=${setUnitId} />`}
        <label for=${`eu-pw-${u.id}`}>重置密码</label><input id=${`eu-pw-${u.id}`} type="password" autocomplete="new-password" value=${password} onInput=${(e) => setPassword(e.target.value)} /></div>
      <${RolePicker} idPrefix=${`eu-role-${u.id}`} roles=${allowed} value=${roles} onChange=${setRoles} />
      <div class="buttons"><button type="submit" class="primary" disabled=${busy}>保存</button><button type="button" onClick=${() => setEdit(false)}>取消</button></div>
      <${Msg} msg=${msg} onRefresh=${onDone} /></form></td></tr>`;
  return html`<tr class=${u.is_active ? "" : "muted"}>
    <td data-label="用户名">${u.username}</td><td data-label="姓名">${u.full_name || "—"}</td><td data-label="单位">${data.names[u.unit_id] || "—"}</td>
    <td data-label="角色">${u.roles.map((r) => USER_ROLE_LABELS[r] || r).join("、")}</td><td data-label="最近登录">${fmtTime(u.last_login_at)}</td>
    <td data-label="操作">${head && !u.roles.every((r) => allowed.includes(r)) ? html`<span class="muted">—</span>` : html`<div class="buttons"><button type="button" onClick=${() => setEdit(true)}>编辑</button>
      <button type="button" disabled=${busy} onClick=${() => save({ is_active: !u.is_active })}>${u.is_active ? "停用" : "启用"}</button></div>`}
      <${Msg} msg=${msg} onRefresh=${onDone} /></td>
  </tr>`;
}
