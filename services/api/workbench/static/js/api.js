// Every byte the workbench reads or writes goes through the public REST API under /api/v1,
// with the signed-in user's bearer token. An expired access token is refreshed once (one refresh
// shared by all requests in flight) and the request retried; a failed refresh signs the user out.

const BASE = "/api/v1";
const KEY = "duban.workbench.session";
// Said on every optimistic-lock refusal: the item changed under the user's hands.
export const CONFLICT = "已被他人修改，请刷新";

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
  get conflict() {
    return this.status === 412 || /concurrent|version_conflict/.test(this.code || "");
  }
  // What the user reads: the API's own Chinese message, with the conflict explained.
  get text() {
    if (this.conflict) return `${CONFLICT}（${this.message}）`;
    // Validation refusals name the fields, so the user knows what to fix.
    if (Array.isArray(this.details) && this.details.length && this.details[0].field) {
      const fields = [...new Set(this.details.map((d) => d.field.replace(/^(body|query|path)\./, "")))];
      return `${this.message}（${fields.join("、")}）`;
    }
    return this.message;
  }
}

let session = load();
const listeners = new Set();
let refreshing = null;

function load() {
  try {
    return JSON.parse(localStorage.getItem(KEY) || "null");
  } catch {
    return null;
  }
}

function save(next) {
  session = next;
  if (next) localStorage.setItem(KEY, JSON.stringify(next));
  else localStorage.removeItem(KEY);
  listeners.forEach((fn) => fn(session));
}

export const getSession = () => session;
export const onSession = (fn) => (listeners.add(fn), () => listeners.delete(fn));

function tokens(pair) {
  return { access: pair.access_token, refresh: pair.refresh_token };
}

async function envelope(res) {
  let body = null;
  try {
    body = await res.json();
  } catch {
    /* not JSON: fall back to the status line */
  }
  const err = body && body.error;
  if (err) return new ApiError(res.status, err.code, err.message, err.details);
  return new ApiError(res.status, "http." + res.status, `请求失败（HTTP ${res.status}）`, null);
}

function networkError() {
  return new ApiError(0, "network", "无法连接服务器，请检查网络后重试", null);
}

export async function signIn(username, password) {
  const form = new URLSearchParams({ username, password });
  let res;
  try {
    res = await fetch(BASE + "/auth/token", { method: "POST", body: form });
  } catch {
    throw networkError();
  }
  if (!res.ok) throw await envelope(res);
  save(tokens(await res.json()));
  return session;
}

export async function signOut() {
  const s = session;
  save(null);
  if (s) {
    try {
      await fetch(BASE + "/auth/logout", {
        method: "POST",
        headers: { Authorization: "Bearer " + s.access, "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: s.refresh }),
      });
    } catch {
      /* signed out locally either way */
    }
  }
}

async function refresh() {
  if (!session || !session.refresh) return false;
  if (!refreshing) {
    const used = session.refresh;
    refreshing = (async () => {
      try {
        const res = await fetch(BASE + "/auth/refresh", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ refresh_token: used }),
        });
        if (!res.ok) {
          // Another tab may have rotated the pair already: take its tokens if they are newer.
          const stored = load();
          if (stored && stored.refresh !== used) {
            save(stored);
            return true;
          }
          save(null);
          return false;
        }
        save(tokens(await res.json()));
        return true;
      } catch {
        return false;
      } finally {
        refreshing = null;
      }
    })();
  }
  return refreshing;
}

function headersFor(extra) {
  const h = { Accept: "application/json", ...extra };
  if (session) h.Authorization = "Bearer " + session.access;
  return h;
}

// fetch with auth, refresh-and-retry once on 401, and errors as ApiError.
async function raw(method, path, { body, headers = {}, query } = {}) {
  let url = path.startsWith("/") && !path.startsWith(BASE) ? BASE + path : path;
  if (query) {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v === undefined || v === null || v === "") continue;
      for (const one of Array.isArray(v) ? v : [v]) qs.append(k, String(one));
    }
    const s = qs.toString();
    if (s) url += (url.includes("?") ? "&" : "?") + s;
  }
  const init = { method };
  if (body !== undefined) {
    if (body instanceof FormData || typeof body === "string" || body instanceof Blob) init.body = body;
    else {
      init.body = JSON.stringify(body);
      headers = { ...headers, "Content-Type": "application/json" };
    }
  }
  // Rebuilt for the retry after a refresh with the new token — and the body's type still named
  // (it was lost: a JSON write retried after the access token expired answered 422).
  init.headers = headersFor(headers);
  for (let attempt = 0; ; attempt++) {
    let res;
    try {
      res = await fetch(url, init);
    } catch {
      throw networkError();
    }
    // A wrong password in a form (the current one, when changing it) is a refusal, not an ended session.
    if (res.status === 401 && (await envelope(res.clone())).code === "auth.invalid_credentials") throw await envelope(res);
    if (res.status === 401 && attempt === 0 && (await refresh())) {
      init.headers = headersFor(headers);
      continue;
    }
    if (res.status === 401) save(null);
    if (!res.ok) throw await envelope(res);
    return res;
  }
}

export async function api(method, path, opts) {
  const res = await raw(method, path, opts);
  if (res.status === 204) return null;
  const type = res.headers.get("content-type") || "";
  return type.includes("json") ? res.json() : res.text();
}

export const get = (path, query) => api("GET", path, { query });
export const post = (path, body, opts = {}) => api("POST", path, { body, ...opts });
export const patch = (path, body, opts = {}) => api("PATCH", path, { body, ...opts });
export const put = (path, body, opts = {}) => api("PUT", path, { body, ...opts });
export const del = (path, opts = {}) => api("DELETE", path, opts);

// Optimistic locking: name the version the user looked at, so a lost update answers 412.
export const ifMatch = (kind, item) => ({ headers: { "If-Match": `W/"${kind}-${item.id}-${item.version}"` } });

// Every page of a cursor-paged list, up to `max` items.
export async function all(path, query = {}, max = 1000) {
  const items = [];
  let cursor = null;
  do {
    const page = await get(path, { ...query, limit: Math.min(500, max), cursor });
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}

// Downloads an authenticated file (bulletins, exports, attachments) and hands it to the browser.
export async function download(path, fallbackName) {
  const res = await raw("GET", path, {});
  const blob = await res.blob();
  const disposition = res.headers.get("content-disposition") || "";
  const star = /filename\*=UTF-8''([^;]+)/i.exec(disposition);
  const plain = /filename="?([^";]+)"?/i.exec(disposition);
  const name = star ? decodeURIComponent(star[1]) : plain ? plain[1] : fallbackName;
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  return name;
}

// Uploads with progress (XMLHttpRequest: fetch reports no upload progress). onProgress(0..1).
export function upload(path, file, onProgress, { field = "file", query } = {}) {
  const send = () =>
    new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      let url = BASE + path;
      if (query) url += "?" + new URLSearchParams(query).toString();
      xhr.open("POST", url);
      if (session) xhr.setRequestHeader("Authorization", "Bearer " + session.access);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.onprogress = (e) => e.lengthComputable && onProgress && onProgress(e.loaded / e.total);
      xhr.onerror = () => reject(networkError());
      xhr.onload = () => {
        let body = null;
        try {
          body = JSON.parse(xhr.responseText);
        } catch {
          /* empty or not JSON */
        }
        if (xhr.status >= 200 && xhr.status < 300) resolve(body);
        else {
          const e = body && body.error;
          reject(
            e
              ? new ApiError(xhr.status, e.code, e.message, e.details)
              : new ApiError(xhr.status, "http." + xhr.status, `上传失败（HTTP ${xhr.status}）`, null),
          );
        }
      };
      const form = new FormData();
      form.append(field, file, file.name);
      xhr.send(form);
    });
  return send().catch(async (err) => {
    if (err.status === 401 && (await refresh())) return send();
    throw err;
  });
}
