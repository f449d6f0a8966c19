// Links to a report, an instruction or an extension request open the assignment they belong to.
import { html, useLoad, Failure, Loading } from "../lib.js";
import { get } from "../api.js";
import { Redirect } from "../nav.js";

const PATHS = { reports: "/reports/", instructions: "/instructions/", "extension-requests": "/extension-requests/" };

export default function ToAssignment({ params: [kind, id] }) {
  const [item, error, reload] = useLoad(() => get(PATHS[kind] + id), [kind, id]);
  if (error) return html`<${Failure} error=${error} onRetry=${reload} />`;
  if (!item) return html`<${Loading} />`;
  if (item.assignment_id) return html`<${Redirect} to=${`/app/assignments/${item.assignment_id}`} />`;
  return html`<${Redirect} to=${`/app/instructions?task=${item.task_id}`} />`;
}
