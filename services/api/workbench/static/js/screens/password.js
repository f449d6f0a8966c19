// 修改密码: the signed-in person's own password (POST /users/me/password). A first admin signs in
// with the printed password and changes it here; a new member of staff changes the one the head set.
import { html, useState, useEffect, useAction, Msg, setTitle } from "../lib.js";
import { post, signIn } from "../api.js";

export default function Password({ user }) {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [again, setAgain] = useState("");
  const [run, busy, msg, setMsg] = useAction();
  useEffect(() => setTitle("修改密码"), []);
  const change = async (e) => {
    e.preventDefault();
    if (next !== again) return setMsg({ ok: false, text: "两次输入的新密码不一致" });
    // The change ends every session of the user, this one too: signed in again with the new password.
    const out = await run(async () => {
      await post("/users/me/password", { current_password: current, new_password: next });
      await signIn(user.username, next);
      return true;
    }, "密码已修改；其他设备上的登录已退出");
    if (out) (setCurrent(""), setNext(""), setAgain(""));
  };
  return html`<section aria-labelledby="pw-title">
    <h1 id="pw-title">修改密码</h1>
    <form class="panel narrow" id="password-form" onSubmit=${change}>
      <div class="field"><label for="pw-current">当前密码</label><input id="pw-current" type="password" autocomplete="current-password" required value=${current} onInput=${(e) => setCurrent(e.target.value)} /></div>
      <div class="field"><label for="pw-new">新密码（至少 8 位）</label><input id="pw-new" type="password" autocomplete="new-password" required minlength="8" maxlength="128" value=${next} onInput=${(e) => setNext(e.target.value)} /></div>
      <div class="field"><label for="pw-again">再次输入新密码</label><input id="pw-again" type="password" autocomplete="new-password" required minlength="8" maxlength="128" value=${again} onInput=${(e) => setAgain(e.target.value)} /></div>
      <button type="submit" class="primary" disabled=${busy}>修改密码</button>
      <${Msg} msg=${msg} />
    </form>
  </section>`;
}
