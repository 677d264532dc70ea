// The supervisors' console: every audit entry live, alerts highlighted, filters, annotations.
import { RealtimeClient, connectionBadge } from "./rt.js";
import { beijing, failure } from "./util.js";

const ROOM = "console:all";
const MAX_ROWS = 2000;
const page = document.getElementById("console");
const t = JSON.parse(document.getElementById("console-labels").textContent);
const rows = document.getElementById("entries");
const alerts = document.getElementById("alerts");
const filters = {
  tender: document.getElementById("f-tender"), room: document.getElementById("f-room"),
  actor: document.getElementById("f-actor"), action: document.getElementById("f-action"),
  alertsOnly: document.getElementById("f-alerts"),
};
let entries = [];

function matches(e) {
  const f = (el) => el.value.trim();
  if (f(filters.tender) && String(e.tender ?? "") !== f(filters.tender)) return false;
  if (f(filters.room) && !(e.room || "").includes(f(filters.room))) return false;
  if (f(filters.actor) && !(e.actor || "").includes(f(filters.actor))) return false;
  if (f(filters.action) && !e.action.startsWith(f(filters.action))) return false;
  if (filters.alertsOnly.checked && !e.alert) return false;
  return true;
}

const ROOMS = /^(hall|venue|console):(.*)$/;

/** A code people read through its label, with the code itself small beside it, for support. A
 * code longer than its column ends in an ellipsis; its title holds all of it. */
function labelled(label, code) {
  const span = document.createElement("span");
  span.append(label || code || "—");
  if (code && label && label !== code) span.append(" ", clipped(code, "small", "code"));
  return span;
}

/** ``text`` on one line, cut with an ellipsis where its column ends (tests/e2e/test_console_layout.py),
 * the whole of it in the title. */
function clipped(text, tag = "span", className = "") {
  const el = document.createElement(tag);
  el.className = `clip ${className}`.trim();
  el.textContent = text;
  el.title = text;
  return el;
}

/** At most two lines, the rest cut with an ellipsis and the whole text in the title: an
 * organisation's name or an actor may be long (a name of 200 characters, an account of 150). */
function twoLines(content) {
  const div = document.createElement("div");
  div.className = "two-lines";
  div.append(content);
  div.title = div.textContent.replace(/\s+/g, " ").trim();
  return div;
}

/** An address that may break after each ":" or "." (an IPv6 address is 45 characters). */
function address(ip) {
  const span = document.createElement("span");
  for (const part of (ip || "").split(/(?<=[:.])/)) span.append(part, document.createElement("wbr"));
  return span;
}

/** A room by its kind's label and its id ("评标室 12 / 3"); the one console by its label alone. */
function room(value) {
  const m = ROOMS.exec(value || "");
  if (!m) return value || "";
  return m[1] === "console" ? t.rooms.console : `${t.rooms[m[1]]} ${m[2].replace(":", " / ")}`;
}

/** An object by its kind's label and its id; an id wider than the column (up to 64 characters: a
 * hash, a path) ends in an ellipsis, the whole id in its title. */
function object(value) {
  const i = (value || "").lastIndexOf(":");
  if (i < 0) return value ? clipped(value) : "";
  const span = document.createElement("span");
  span.append(t.objects[value.slice(0, i)] || t.object_other, " ", clipped(value.slice(i + 1)));
  return span;
}

/** The account name (as people signed in with it) and the role's label; the platform's own
 * processes by their label, their name small beside it. */
function actor(e) {
  if (e.role === "system") {
    return labelled(`${t.system_actors[e.actor] || t.system_other} · ${t.roles.system}`, e.actor);
  }
  const span = document.createElement("span");
  const user = document.createElement("span");
  user.className = "user";
  user.dataset.user = "";
  user.textContent = e.actor || "—";
  span.append(user);
  if (e.role) span.append(` · ${t.roles[e.role] || e.role}`);
  return span;
}

/** An alert as people read it in the page's language: its own label, else its action's. */
function alertLabel(e) {
  return e.alert ? t.alerts[e.alert.code] || t.actions[e.action] || e.alert.label : "";
}

function row(e) {
  const tr = document.createElement("tr");
  if (e.alert) tr.className = `alert-${e.alert.level}`;
  const cells = [e.index, beijing(e.time), alertLabel(e), labelled(t.actions[e.action], e.action),
                 twoLines(actor(e)), e.org ? twoLines(e.org) : "", address(e.ip),
                 e.tender ?? "", room(e.room), object(e.object)];
  for (const value of cells) {
    const td = document.createElement("td");
    if (value instanceof Node) td.append(value); else td.textContent = String(value);
    tr.appendChild(td);
  }
  return tr;
}

function render() {
  rows.replaceChildren(...entries.filter(matches).slice(-500).reverse().map(row));
  const recent = entries.filter((e) => e.alert).slice(-20).reverse();
  alerts.replaceChildren(...recent.map((e) => {
    const li = document.createElement("li");
    li.className = `alert-${e.alert.level}`;
    li.append(`${beijing(e.time)} ${alertLabel(e)} · `, actor(e), ` · ${t.actions[e.action] || e.action}`);
    return li;
  }));
}

const client = new RealtimeClient();
connectionBadge(client, document.getElementById("conn"), t.state);
client.join(ROOM, {
  onSnapshot(snapshot) { entries = snapshot.entries; render(); },
  onEvent(frame) {
    if (frame.event !== "audit.entry") return;
    entries.push(frame.payload);
    if (entries.length > MAX_ROWS) entries = entries.slice(-MAX_ROWS);
    render();
  },
  onError(err) { page.dataset.error = err.code || "error"; },
});
client.connect();
for (const el of Object.values(filters)) el.addEventListener("input", render);

document.getElementById("annotate").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const text = document.getElementById("note-text");
  const about = document.getElementById("note-about").value.trim();
  const status = document.getElementById("note-status");
  try {
    const payload = { text: text.value };
    if (about) payload.about = Number(about);
    await client.command("console.annotate", ROOM, payload);
    status.textContent = t.noted;
    text.value = "";
  } catch (err) {
    status.textContent = failure(t, err);
  }
});
