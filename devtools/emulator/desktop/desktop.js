// The agent desktop: polls the task list every second and renders the selected task.
// Everything the customer wrote is set with textContent, never parsed as HTML.
"use strict";

const API = "/_emulator/desktop/tasks";
const POLL_MS = 1000;
const ROLE_LABELS = { customer: "Customer", bot: "Virtual agent", agent: "You", system: "System" };
const ROUTING_KEYS = ["department", "priority", "escalation", "queue", "language"];
const STATUS_LABELS = {
  pending: "Waiting", reserved: "Offered", assigned: "Accepted",
  wrapping: "Wrapping up", completed: "Completed", canceled: "Canceled",
};

const view = { tasks: [], selected: null, transcriptKey: "" };
const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function age(seconds) {
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  return `${Math.floor(seconds / 3600)}h`;
}

function renderList() {
  const list = $("tasks");
  list.replaceChildren();
  $("count").textContent = String(view.tasks.length);
  $("empty").hidden = view.tasks.length > 0;
  for (const task of view.tasks) {
    const item = el("li");
    const button = el("button", "task" + (task.sid === view.selected ? " selected" : ""));
    button.type = "button";
    button.dataset.sid = task.sid;
    const top = el("div", "task-top");
    top.append(el("span", `badge ${task.channel}`, task.channel),
      el("span", `pill ${task.status}`, STATUS_LABELS[task.status] || task.status),
      el("span", "age", age(task.age)));
    button.append(top, el("div", "task-customer", task.customer || "Unknown customer"),
      el("div", "task-reason", task.reason || "No reason given"));
    button.addEventListener("click", () => select(task.sid));
    item.append(button);
    list.append(item);
  }
}

function renderAttributes(attributes) {
  const body = $("attributes");
  body.replaceChildren();
  for (const [key, value] of Object.entries(attributes)) {
    const row = el("tr");
    const shown = typeof value === "string" ? value : JSON.stringify(value);
    row.append(el("th", "", key), el("td", "", shown));
    body.append(row);
  }
}

function renderRouting(attributes) {
  const chips = $("routing");
  chips.replaceChildren();
  for (const key of ROUTING_KEYS) {
    const value = attributes[key];
    if (value === undefined || value === null || typeof value === "object") continue;
    const chip = el("li", "chip");
    chip.append(el("span", "chip-key", key), el("span", "", value));
    chips.append(chip);
  }
}

function renderTranscript(lines) {
  const key = JSON.stringify(lines);
  if (key === view.transcriptKey) return;
  view.transcriptKey = key;
  const list = $("transcript");
  list.replaceChildren();
  if (lines.length === 0) list.append(el("li", "line system", "Nothing was said yet."));
  for (const line of lines) {
    const item = el("li", `line ${line.role}`);
    item.append(el("span", "who", ROLE_LABELS[line.role] || line.role), el("p", "", line.body));
    list.append(item);
  }
  list.scrollTop = list.scrollHeight;
}

function renderDetail() {
  const task = view.tasks.find((candidate) => candidate.sid === view.selected);
  $("placeholder").hidden = Boolean(task);
  $("detail").hidden = !task;
  if (!task) return;
  $("customer").textContent = task.customer || "Unknown customer";
  $("channel").textContent = task.channel;
  $("channel").className = `badge ${task.channel}`;
  $("state").textContent = STATUS_LABELS[task.status] || task.status;
  $("state").className = `pill ${task.status}`;
  $("sid").textContent = task.sid;
  const trace = $("trace");
  trace.hidden = !task.traceUrl;
  if (task.traceUrl) trace.href = task.traceUrl;
  $("reason").textContent = task.reason || "No reason given";
  $("summary").textContent = task.summary || "No summary was provided.";
  $("summary").classList.toggle("muted", !task.summary);
  renderRouting(task.attributes);
  renderAttributes(task.attributes);
  renderTranscript(task.transcript);
  $("accept").disabled = !task.canAccept;
  $("complete").disabled = !task.canComplete;
  $("handback").disabled = !task.canHandBack;
  $("send").disabled = !task.canReply;
  $("reply-body").disabled = !task.canReply;
  $("reply-body").placeholder = task.canReply
    ? (task.channel === "voice" ? "Say something to the caller…" : "Write to the customer…")
    : "Accept the task to reply";
}

function select(sid) {
  if (view.selected !== sid) {
    view.selected = sid;
    view.transcriptKey = "";
    showError("");
  }
  renderList();
  renderDetail();
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

async function refresh() {
  try {
    const response = await fetch(API, { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const data = await response.json();
    view.tasks = data.tasks;
    $("agent").textContent = data.agent;
    $("status").textContent = "live";
    $("status").className = "link-state live";
    if (!view.selected && view.tasks.length > 0) view.selected = view.tasks[0].sid;
    renderList();
    renderDetail();
  } catch (error) {
    $("status").textContent = "reconnecting…";
    $("status").className = "link-state down";
  }
}

async function act(action, body) {
  if (!view.selected) return false;
  const response = await fetch(`${API}/${view.selected}/${action}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body || {}),
  });
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    showError(problem.message || `Could not ${action}: HTTP ${response.status}`);
    return false;
  }
  showError("");
  await refresh();
  return true;
}

$("accept").addEventListener("click", () => act("accept"));
$("complete").addEventListener("click", () => act("complete"));
$("handback").addEventListener("click", () => act("handback"));
$("reply").addEventListener("submit", async (event) => {
  event.preventDefault();
  const box = $("reply-body");
  const text = box.value.trim();
  if (!text) return;
  if (await act("reply", { body: text })) box.value = "";
});
$("reply-body").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    $("reply").requestSubmit();
  }
});

refresh();
setInterval(refresh, POLL_MS);
