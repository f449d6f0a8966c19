// The bulletin's Markdown (headings, paragraphs, lists, pipe tables) as elements, never as HTML.
import { html } from "./lib.js";

export function Markdown({ text }) {
  const lines = (text || "").split("\n");
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (!line.trim()) continue;
    const h = /^(#{1,4})\s+(.*)$/.exec(line);
    if (h) {
      const level = Math.min(h[1].length + 1, 5);
      out.push(heading(`h${level}`, h[2]));
      continue;
    }
    if (line.startsWith("|")) {
      const rows = [];
      while (i < lines.length && lines[i].startsWith("|")) rows.push(lines[i++]);
      i--;
      const cells = (r) => r.replace(/^\||\|$/g, "").split("|").map((c) => c.trim());
      const [head, , ...body] = rows;
      out.push(html`<table class="list md"><thead><tr>${cells(head).map((c) => html`<th scope="col">${c}</th>`)}</tr></thead>
        <tbody>${body.map((r) => html`<tr>${cells(r).map((c) => html`<td>${c}</td>`)}</tr>`)}</tbody></table>`);
      continue;
    }
    if (/^\s*([-*]|\d+\.)\s+/.test(line)) {
      const items = [];
      while (i < lines.length && /^\s*([-*]|\d+\.)\s+/.test(lines[i])) items.push(lines[i++].replace(/^\s*([-*]|\d+\.)\s+/, ""));
      i--;
      out.push(html`<ul>${items.map((t) => html`<li>${t}</li>`)}</ul>`);
      continue;
    }
    out.push(html`<p>${line}</p>`);
  }
  return html`<div class="markdown">${out}</div>`;

  function heading(tag, content) {
    return html`<${tag}>${content}</${tag}>`;
  }
}
