// History routing: pushState/replaceState plus popstate, and in-page handling of plain /app links.
import { html, useEffect, useState } from "./lib.js";

const listeners = new Set();

export function navigate(to, { replace = false } = {}) {
  if (to === location.pathname + location.search) return;
  history[replace ? "replaceState" : "pushState"](null, "", to);
  listeners.forEach((fn) => fn());
}

window.addEventListener("popstate", () => listeners.forEach((fn) => fn()));

// Plain <a href="/app/..."> links route in the page; modified clicks (new tab) stay with the browser.
document.addEventListener("click", (e) => {
  const a = e.target.closest && e.target.closest("a[href]");
  if (!a || a.target || a.hasAttribute("download") || e.defaultPrevented || e.button !== 0) return;
  if (e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith("/app") || url.pathname.startsWith("/app/static")) return;
  if (url.hash && url.pathname === location.pathname) return; // in-page anchors (the skip link)
  e.preventDefault();
  navigate(url.pathname + url.search);
});

export function useLocation() {
  const [, bump] = useState(0);
  useEffect(() => {
    const fn = () => bump((n) => n + 1);
    listeners.add(fn);
    return () => listeners.delete(fn);
  }, []);
  return location.pathname.replace(/\/+$/, "") || "/app";
}

export function useQuery() {
  useLocation();
  return new URLSearchParams(location.search);
}

// Replaces the current query string (filters kept in the URL, so back/forward and links keep them).
export function setQuery(changes) {
  const q = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined || v === null || v === "") q.delete(k);
    else q.set(k, String(v));
  }
  const s = q.toString();
  navigate(location.pathname + (s ? "?" + s : ""), { replace: true });
}

export function Redirect({ to }) {
  useEffect(() => navigate(to, { replace: true }), [to]);
  return html`<p class="loading" role="status">正在跳转…</p>`;
}

// Where a notification's link leads inside the workbench (absolute URLs and pre-/app paths included).
export function linkTarget(link) {
  if (!link) return null;
  let path;
  try {
    path = new URL(link, location.origin).pathname;
  } catch {
    return null;
  }
  if (path.startsWith("/app/")) return path;
  const m = /\/(assignments|reports|instructions|extension-requests|bulletins|assessments|plans|tasks|deliveries)\/(\d+)/.exec(path);
  if (m) return `/app/${m[1]}/${m[2]}`;
  return /\/assignments\/?$/.test(path) ? "/app/assignments" : null;
}
