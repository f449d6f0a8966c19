// Item links (from notifications, bulletins, other clients) open the screen that shows the item:
// a report, instruction or extension request → its assignment; a bulletin, assessment or plan →
// its list screen with it selected; a task → the breakdown table of its plan.
import { html, useLoad, Failure, Loading } from "../lib.js";
import { get, all } from "../api.js";
import { Redirect } from "../nav.js";

const PATHS = { reports: "/reports/", instructions: "/instructions/", "extension-requests": "/extension-requests/", tasks: "/tasks/" };
const DIRECT = {
  bulletins: (id) => `/app/bulletins?bulletin=${id}`,
  assessments: (id) => `/app/assessments?assessment=${id}`,
  plans: (id) => `/app/breakdown?plan=${id}`,
};

export default function ToItem({ params: [kind, id] }) {
  const direct = DIRECT[kind];
  const [item, error, reload] = useLoad(async () => {
    if (direct) return null;
    const it = await get(PATHS[kind] + id);
    // A 批示 on a whole task: a unit user answers it on the unit's own assignment of that task.
    if (kind === "instructions" && !it.assignment_id) {
      const mine = await all("/assignments", { task_id: it.task_id }, 50);
      if (mine.length && mine.every((a) => a.unit_id === mine[0].unit_id)) it.assignment_id = mine[0].id;
    }
    return it;
  }, [kind, id]);
  if (direct) return html`<${Redirect} to=${direct(id)} />`;
  if (error) return html`<${Failure} error=${error} onRetry=${reload} />`;
  if (!item) return html`<${Loading} />`;
  if (kind === "tasks") return html`<${Redirect} to=${`/app/breakdown?plan=${item.plan_id}`} />`;
  if (item.assignment_id) return html`<${Redirect} to=${`/app/assignments/${item.assignment_id}`} />`;
  return html`<${Redirect} to=${`/app/instructions?task=${item.task_id}`} />`;
}
