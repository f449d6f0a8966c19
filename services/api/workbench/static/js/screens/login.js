import { html, useState, setTitle, useEffect } from "../lib.js";
import { signIn, get } from "../api.js";

export default function Login({ onSignedIn }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => setTitle("登录"), []);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(username.trim(), password);
      onSignedIn(await get("/auth/me"));
    } catch (err) {
      setError(err.text || err.message);
      setBusy(false);
    }
  };
  return html`<main id="main" class="login">
    <form id="login-form" onSubmit=${submit} aria-labelledby="login-title">
      <h1 id="login-title">督办工作台</h1>
      <p class="sub">行动计划任务督办系统</p>
      <div class="field">
        <label for="username">用户名</label>
        <input id="username" name="username" autocomplete="username" required value=${username} onInput=${(e) => setUsername(e.target.value)} />
      </div>
      <div class="field">
        <label for="password">密码</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required value=${password} onInput=${(e) => setPassword(e.target.value)} />
      </div>
      ${error ? html`<p class="msg error" role="alert" id="login-error">${error}</p>` : null}
      <button type="submit" class="primary" disabled=${busy}>${busy ? "正在登录…" : "登录"}</button>
    </form>
  </main>`;
}
