// The shell: who is signed in, the navigation for their roles, the unread count, and the router
// that maps /app/* paths (history API: deep links, back and forward) to one module per screen.
import { html, render, useState, useEffect, useRef, isOffice, isUnit, isLeader, hasRole, Failure, Loading } from "./lib.js";
import { get, getSession, onSession, signOut } from "./api.js";
import { navigate, useLocation, Redirect } from "./nav.js";

// [pattern, screen module, needs sign-in]. Screens load on first use (import()), so the first page
// costs only the shell and the screen it shows.
const ROUTES = [
  [/^\/app\/login$/, "login", false],
  [/^\/app\/inbox$/, "inbox"],
  [/^\/app\/tasks$/, "tasks"],
  [/^\/app\/assignments\/(\d+)$/, "assignment"],
  [/^\/app\/assignments$/, "assignments"],
  [/^\/app\/(reports|instructions|extension-requests|bulletins|assessments|plans|tasks)\/(\d+)$/, "redirect"],
  [/^\/app\/instructions$/, "instructions"],
  [/^\/app\/breakdown$/, "breakdown"],
  [/^\/app\/review$/, "review"],
  [/^\/app\/intake$/, "intake"],
  [/^\/app\/bulletins$/, "bulletins"],
  [/^\/app\/assessments$/, "assessments"],
  [/^\/app\/units$/, "units"],
  [/^\/app\/users$/, "users"],
  [/^\/app\/aliases$/, "aliases"],
  [/^\/app\/webhooks$/, "webhooks"],
  [/^\/app\/policy$/, "policy"],
  [/^\/app\/overview$/, "overview"],
  [/^\/app\/indicators$/, "indicators"],
  [/^\/app\/boards$/, "boards"],
  [/^\/app\/accounts$/, "accounts"],
  [/^\/app\/audit$/, "audit"],
  [/^\/app\/calendar$/, "calendar"],
  [/^\/app\/password$/, "password"],
];

function navFor(user) {
  const items = [];
  if (isUnit(user)) items.push(["/app/tasks", "我的待办"], ["/app/instructions", "批示"]);
  if (isOffice(user))
    items.push(
      ["/app/breakdown", "任务分解表"],
      ["/app/review", "审核"],
      ["/app/intake", "计划导入"],
      ["/app/indicators", "指标"],
      ["/app/bulletins", "通报"],
      ["/app/assessments", "考核"],
      ["/app/units", "单位"],
      ["/app/aliases", "单位别名"],
      ["/app/webhooks", "Webhook"],
      ["/app/policy", "提醒策略"],
      ["/app/calendar", "节假日"],
      ["/app/boards", "看板链接"],
    );
  // People are managed by administrators, and each unit head manages the unit's own staff.
  if (hasRole(user, "admin")) items.push(["/app/users", "用户"], ["/app/accounts", "服务账号"]);
  else if (hasRole(user, "unit_head")) items.push(["/app/users", "本单位人员"]);
  if (isLeader(user) && !isOffice(user)) items.push(["/app/overview", "态势"], ["/app/indicators", "指标"], ["/app/breakdown", "任务分解表"], ["/app/instructions", "批示"]);
  if (isUnit(user)) items.push(["/app/indicators", "指标"]);
  if (hasRole(user, "office", "viewer", "admin")) items.push(["/app/audit", "审计日志"]);
  if (hasRole(user, "leader") && isOffice(user)) items.push(["/app/overview", "态势"]);
  items.push(["/app/inbox", "消息"]);
  return items.filter(([href], i) => items.findIndex(([h]) => h === href) === i);
}

// List pages that notification links name (duban/links.py) and the screen that shows them.
const LIST_ALIASES = {
  "/app/assignments": (u) => (isUnit(u) ? "/app/tasks" : isOffice(u) ? "/app/breakdown" : "/app/overview"),
  "/app/reports": (u) => (isOffice(u) ? "/app/review" : "/app/tasks"),
  "/app/plans": () => "/app/breakdown",
  "/app/deliveries": () => "/app/webhooks",
};

function aliasFor(path, user) {
  if (/^\/app\/deliveries\/\d+$/.test(path)) return "/app/webhooks";
  if (path === "/app/assignments") {
    // Unit staff see their unit's open items in 我的待办, in the tab the link's filters mean; the
    // office and leaders get the filtered list itself (screens/assignments.js), or without filters
    // their home list.
    const q = new URLSearchParams(location.search);
    if (isUnit(user)) {
      const overdue = q.get("overdue") === "true" || q.has("min_working_days_overdue");
      return "/app/tasks" + (overdue ? "?tab=overdue" : q.has("due_before") ? "?tab=soon" : "");
    }
    if (q.toString()) return null;
  }
  const to = LIST_ALIASES[path];
  return to ? to(user) : null;
}

export function homeFor(user) {
  if (isUnit(user)) return "/app/tasks";
  if (isOffice(user)) return "/app/breakdown";
  if (isLeader(user)) return "/app/overview";
  return "/app/inbox";
}

function match(path) {
  for (const [re, screen, auth = true] of ROUTES) {
    const m = re.exec(path);
    if (m) return { screen, params: m.slice(1), auth };
  }
  return null;
}

const modules = {};
function useScreen(name) {
  const [loaded, setLoaded] = useState(0);
  const [error, setError] = useState(null);
  useEffect(() => {
    setError(null);
    if (modules[name]) return;
    import(`./screens/${name}.js`).then(
      (m) => ((modules[name] = m), setLoaded((n) => n + 1)),
      () => setError({ text: "页面加载失败，请检查网络后刷新" }),
    );
  }, [name]);
  // Only ever the module of the screen asked for (never the previous one while the next loads).
  return [modules[name], error, loaded];
}

// --- the signed-in user ---
let me = null;
async function loadMe() {
  if (!getSession()) return (me = null);
  return (me = await get("/auth/me")); // with unit_name: one request
}

function Unread({ path }) {
  const [n, setN] = useState(0);
  useEffect(() => {
    let alive = true;
    const tick = () => get("/notifications/unread-count").then((r) => alive && setN(r.unread), () => {});
    tick();
    const timer = setInterval(tick, 60000);
    window.addEventListener("duban:unread", tick);
    return () => {
      alive = false;
      clearInterval(timer);
      window.removeEventListener("duban:unread", tick);
    };
  }, [path]);
  return n > 0 ? html`<span class="badge" id="unread-count" aria-label=${`${n} 条未读`}>${n > 99 ? "99+" : n}</span>` : null;
}

function Shell({ user, path, children }) {
  const [open, setOpen] = useState(false);
  useEffect(() => setOpen(false), [path]);
  const unitName = user.unit_name ? ` · ${user.unit_name}` : "";
  return html`
    <a class="skip" href="#main">跳到主要内容</a>
    <header class="top">
      <a class="brand" href=${homeFor(user)}>督办工作台</a>
      <button type="button" class="menu-toggle" aria-expanded=${open} aria-controls="nav" onClick=${() => setOpen(!open)}>菜单</button>
      <nav id="nav" class=${open ? "open" : ""} aria-label="主导航">
        <ul>
          ${navFor(user).map(
            ([href, label]) => html`<li>
              <a href=${href} aria-current=${path.startsWith(href) ? "page" : undefined}>
                ${label}${href === "/app/inbox" ? html` <${Unread} path=${path} />` : null}
              </a>
            </li>`,
          )}
        </ul>
      </nav>
      <div class="who">
        <span>${user.full_name || user.username}${unitName}</span>
        <a href="/app/password" id="change-password">修改密码</a>
        <button type="button" class="link" id="sign-out" onClick=${() => signOut().then(() => navigate("/app/login"))}>退出</button>
      </div>
    </header>
    <main id="main" tabindex="-1">${children}</main>
  `;
}

function App() {
  const path = useLocation();
  const [user, setUser] = useState(me);
  const [meError, setMeError] = useState(null);
  const [ready, setReady] = useState(false);
  const mainRef = useRef(path);

  useEffect(() => {
    const sync = () =>
      loadMe().then(
        (u) => (setUser(u), setMeError(null), setReady(true)),
        (e) => (setUser(null), setMeError(getSession() ? e : null), setReady(true)),
      );
    sync();
    let had = !!getSession();
    return onSession((s) => {
      // Signed out (or the refresh failed): back to the sign-in page, then to where the user was.
      if (!s && had) {
        me = null;
        setUser(null);
        if (!location.pathname.startsWith("/app/login")) navigate(`/app/login?next=${encodeURIComponent(location.pathname + location.search)}`, { replace: true });
      }
      if (s && !had) sync();
      had = !!s;
    });
  }, []);

  // Move focus to the new page's content on navigation, for keyboard and screen-reader users.
  useEffect(() => {
    if (mainRef.current !== path) {
      mainRef.current = path;
      const main = document.getElementById("main");
      if (main) main.focus({ preventScroll: true });
      window.scrollTo(0, 0);
    }
  }, [path]);

  const route = match(path === "/app" ? "/app/__home" : path);
  const name = route ? route.screen : path === "/app" ? "home" : "notfound";
  const [mod, modError] = useScreen(name === "home" || name === "notfound" ? "login" : name);

  if (!ready) return html`<${Loading} />`;
  if (meError) return html`<main id="main"><${Failure} error=${meError} onRetry=${() => location.reload()} /></main>`;
  if (!user && (!route || route.auth !== false)) {
    return html`<${Redirect} to=${`/app/login?next=${encodeURIComponent(location.pathname + location.search)}`} />`;
  }
  if (name === "home") return html`<${Redirect} to=${homeFor(user)} />`;
  const alias = user && aliasFor(path, user);
  if (alias) return html`<${Redirect} to=${alias} />`;
  if (name === "login" && !user) {
    return mod ? html`<${mod.default} onSignedIn=${(u) => (me = u, setUser(u))} />` : html`<${Loading} />`;
  }
  if (name === "login") {
    const next = new URLSearchParams(location.search).get("next");
    return html`<${Redirect} to=${next && next.startsWith("/app/") && !next.startsWith("/app/login") ? next : homeFor(user)} />`;
  }
  let body;
  if (name === "notfound") body = html`<h1>页面不存在</h1><p><a href=${homeFor(user)}>回到首页</a></p>`;
  else if (modError) body = html`<${Failure} error=${modError} />`;
  else if (!mod) body = html`<${Loading} />`;
  else body = html`<${mod.default} key=${path} user=${user} params=${route.params} path=${path} />`;
  return html`<${Shell} user=${user} path=${path}>${body}</${Shell}>`;
}

render(html`<${App} />`, document.getElementById("root"));
