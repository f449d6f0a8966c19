// 消息: the in-app inbox with unread counts; each notice links to its item in the workbench.
import { html, useState, useEffect, useLoad, useAction, Msg, Failure, Loading, Empty, fmtTime, setTitle } from "../lib.js";
import { get, post } from "../api.js";
import { navigate, linkTarget } from "../nav.js";

export default function Inbox() {
  const [unreadOnly, setUnreadOnly] = useState(false);
  const [page, error, reload] = useLoad(() => get("/notifications", { unread: unreadOnly || undefined, limit: 100 }), [unreadOnly]);
  const [count, , reloadCount] = useLoad(() => get("/notifications/unread-count"), []);
  const [run, busy, msg] = useAction();
  useEffect(() => setTitle("消息"), []);
  const changed = () => (reload(), reloadCount(), window.dispatchEvent(new Event("duban:unread")));
  const open = async (n) => {
    if (!n.read_at) await run(() => post(`/notifications/${n.id}/read`));
    changed();
    const to = linkTarget(n.link);
    if (to) navigate(to);
  };
  return html`<section aria-labelledby="inbox-title">
    <div class="head">
      <h1 id="inbox-title">消息 ${count ? html`<small>（未读 <span id="inbox-unread">${count.unread}</span>）</small>` : null}</h1>
      <div class="actions">
        <label class="check"><input type="checkbox" checked=${unreadOnly} onChange=${(e) => setUnreadOnly(e.target.checked)} /> 只看未读</label>
        <button type="button" disabled=${busy || !count || !count.unread} onClick=${() => run(() => post("/notifications/read-all"), "已全部标为已读").then(changed)}>全部已读</button>
      </div>
    </div>
    <${Msg} msg=${msg} />
    <${Failure} error=${error} onRetry=${reload} />
    ${page === undefined ? html`<${Loading} />` : null}
    ${page && page.items.length === 0 ? html`<${Empty}>没有消息</${Empty}>` : null}
    ${page && page.items.length > 0
      ? html`<ul class="inbox">
          ${page.items.map(
            (n) => html`<li class=${n.read_at ? "read" : "unread"} data-target=${linkTarget(n.link) || ""}>
              <button type="button" class="notice" onClick=${() => open(n)}>
                <span class="title">${n.read_at ? null : html`<span class="dot" aria-label="未读"></span>`}${n.title}</span>
                <span class="body">${n.body}</span>
                <time datetime=${n.created_at}>${fmtTime(n.created_at)}</time>
              </button>
            </li>`,
          )}
        </ul>`
      : null}
  </section>`;
}
