// The evaluation venue page (评标室): experts, venue staff and supervisors of one venue room
// ``venue:<session>:<venue>`` (evaluation/state.py). The room's state is a dict of sections kept
// current by events carrying ``patch: [[path, value], …]``; this page applies them with the same
// copy-on-write reducer as the server and renders everything from the state, so a reconnect
// (replay or snapshot, rt.js) loses nothing on screen.
import { RealtimeClient, connectionBadge } from "./rt.js";
import { beijing, clauses, clock, fenToYuan, list, pageData, failure, COLON, paren } from "./util.js";
import { fmt, h, renderTask } from "./venue_tasks.js";
import { ensureKey, loadKey, signReport } from "./evalkey.js";
import { renderDecisions, wireDecisions } from "./venue_decisions.js";
import { renderPrices, wirePrices } from "./venue_prices.js";
import { startMedia } from "./media.js";

const ctx = pageData("venue-ctx");
const t = pageData("venue-labels");
const $ = (id) => document.getElementById(id);
const STEPS = Object.keys(t.steps);
const readonly = ctx.role === "supervisor";
let S = null;

export function applyPatch(state, payload) {
  const out = { ...state };
  for (const [path, value] of payload.patch || []) {
    let node = out;
    for (const key of path.slice(0, -1)) {
      const child = node[key];
      node[key] = child && typeof child === "object" && !Array.isArray(child) ? { ...child } : {};
      node = node[key];
    }
    node[path[path.length - 1]] = value;
  }
  return out;
}

// --- commands ---------------------------------------------------------------------------------------

let statusEl = $("task-status");
function say(text, el = statusEl) { el.textContent = text; }

async function send(cmd, payload, el = statusEl) {
  try {
    await client.command(cmd, ctx.room, payload);
    say(t.sent, el);
    return true;
  } catch (err) {
    const named = whom(err.details);
    say(`${failure(t, err)}${named ? ` (${named})` : ""}`, el);
    return false;
  }
}

/** The members or bidders a refusal names ("E3、E4"), never its details' keys and values as JSON. */
function whom(details) {
  const codes = new Set();
  const walk = (v) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === "string" && /^[EB]\d{1,3}$/.test(v)) codes.add(v);
  };
  Object.values(details || {}).forEach(walk);
  return list(codes);
}

const env = { ctx, t, send: (cmd, payload) => send(cmd, payload), status: (text) => say(text) };
const decisionsEnv = { ctx, t, send };

// --- rendering -------------------------------------------------------------------------------------

const isChair = () => ctx.role === "expert" && S.session.chair && S.session.chair === ctx.member;
const drives = () => ctx.role === "main_staff" || isChair();
const yes = (v) => (v ? "✓" : "—");

function bidderName(b) {
  const row = S.bidders[b] || {};
  return row.name || "—";
}

function renderLock() {
  const s = S.session;
  const banner = $("lock");
  document.getElementById("venue").dataset.locked = s.locked ? "1" : "0";
  if (!s.locked) { banner.hidden = true; banner.textContent = ""; return; }
  banner.hidden = false;
  $("resumed").hidden = true;
  banner.replaceChildren(...s.missing_venues.map((id) => {
    const v = S.venues[id] || {};
    const lock = [...(s.locks || [])].reverse().find((lk) => !lk.ended_at && lk.venues.includes(String(id)))
      || [...(s.locks || [])].reverse().find((lk) => !lk.ended_at);
    return h("p", { text: fmt(t.locked, { venue: v.name || id, since: beijing(lock?.started_at),
                                          members: list(v.members || []) || "—" }) });
  }));
}

function renderHead() {
  const s = S.session;
  document.getElementById("venue").dataset.step = s.step;
  $("step-name").textContent = t.steps[s.step] || s.step;
  $("steps").replaceChildren(...STEPS.map((k) => h("li", {
    text: t.steps[k], class: k === s.step ? "current" : STEPS.indexOf(k) < STEPS.indexOf(s.step) ? "past" : "",
    "aria-current": k === s.step ? "step" : null })));
  $("deadline").textContent = s.deadline ? `${t.deadline}${COLON}${beijing(s.deadline)}` : t.no_deadline;
  const d = s.document;
  $("document").textContent = d ? `${d.id} · ${d.title} · ${fmt(t.page, { n: d.page })}` : t.no_document;
  const back = $("back-pending");
  back.hidden = !s.pending_back;
  if (s.pending_back) {
    back.replaceChildren(h("span", { text: fmt(t.back_pending, { step: t.steps[s.pending_back.to],
                                                                   reason: s.pending_back.reason }) }));
    if (ctx.role === "supervisor") {
      back.append(" ", h("button", { type: "button", text: t.approve, onclick: () => send("eval.decide_back", { approve: true }, back) }),
        " ", h("button", { type: "button", class: "secondary", text: t.reject,
                            onclick: () => send("eval.decide_back", { approve: false }, back) }));
    }
  }
}

function tick() {
  if (!S) return;
  const now = client.now();
  $("server-time").textContent = beijing(now);
  const dl = S.session.deadline;
  $("clock").textContent = dl ? (new Date(dl) > now ? `${t.time_left} ${clock(new Date(dl) - now)}` : t.time_up) : "—";
}

function renderVenues() {
  $("venues").replaceChildren(...Object.entries(S.venues).map(([id, v]) => h("li", { "data-venue": id },
    h("strong", { text: v.name }), ` (${v.main ? t.main : t.sub}) `,
    h("span", { class: `badge ${v.down ? "failed" : "published"}`, text: v.down ? t.down : t.up }),
    ` ${(v.members || []).join(" ")}`)));
}

function renderMembers() {
  const staffHere = (ctx.role === "staff" || ctx.role === "main_staff") && S.session.step === "sign_in";
  $("members").replaceChildren(...Object.keys(S.members).sort().map((code) => {
    const m = S.members[code];
    let identity = yes(m.confirmed);
    if (staffHere && m.venue === ctx.venue && m.signed_in && !m.confirmed) {
      identity = h("button", { type: "button", class: "secondary", "data-confirm": code,
                               text: fmt(t.confirm, { code }),
                               onclick: () => send("eval.confirm", { member: code }, $("confirm-status")) });
    }
    const chair = S.session.chair === code ? ` · ${t.chair}` : "";
    const you = code === ctx.member ? ` (${t.you})` : "";
    return h("tr", { "data-member": code }, h("th", { scope: "row", text: `${code}${you}${chair}` }),
      h("td", { text: m.name ? `${m.name}${m.title ? ` · ${m.title}` : ""}` : "—" }), h("td", { text: m.seat ?? "—" }),
      h("td", { text: yes(m.signed_in) }), h("td", {}, identity),
      h("td", { text: m.recused ? t.recused : yes(m.pledged) }), h("td", { class: "num", text: S.progress?.[code] ?? 0 }));
  }));
  const e = S.election || {};
  $("election").textContent = S.session.step === "chair_election" && !S.session.chair
    ? `${fmt(t.round, { n: e.round ?? 1 })} · ${fmt(t.voted, { codes: (e.voted || []).join(" ") || "—" })}` : "";
}

function renderBidders() {
  $("bidders").replaceChildren(...Object.keys(S.bidders).sort().map((b) => {
    const row = S.bidders[b];
    return h("tr", { "data-bidder": b }, h("th", { scope: "row", text: b }), h("td", { text: bidderName(b) }),
      h("td", { class: "num", text: row.price_fen != null ? fenToYuan(row.price_fen) : "—" }),
      h("td", {}, h("span", { class: `badge ${row.status}`, text: t[row.status] || row.status })));
  }));
}

function renderSummary() {
  const sum = S.summary;
  $("summary-panel").hidden = !sum;
  if (!sum) return;
  const experts = sum.experts || [];
  const head = h("tr", {}, h("th", { scope: "col", text: t.bidder }), ...experts.map((e) => h("th", { scope: "col", class: "num", text: e })),
    ...["technical", "business", "price"].map((c) => h("th", { scope: "col", class: "num", text: t[c].charAt(0).toUpperCase() + t[c].slice(1) })),
    h("th", { scope: "col", class: "num", text: t.total }));
  const rows = Object.entries(sum.bidders || {}).map(([b, r]) => h("tr", { "data-bidder": b },
    h("th", { scope: "row", text: b }), ...experts.map((e) => h("td", { class: `num${r.dropped?.includes(e) ? " dropped" : ""}`, text: r.per_expert[e] ?? "—" })),
    h("td", { class: "num", text: r.categories.technical ?? "—" }), h("td", { class: "num", text: r.categories.business ?? "—" }),
    h("td", { class: "num", text: r.price }), h("td", { class: "num", text: r.total })));
  $("summary").replaceChildren(h("thead", {}, head), h("tbody", {}, rows));
  const alerts = Object.values(sum.alerts || {}).flat();
  $("alerts").replaceChildren(...(alerts.length ? alerts.map((a) => h("li", { class: "alert-warning", "data-alert": a.code,
    text: `${t.alerts[a.code] || a.code} · ${a.bidder}${a.expert ? ` · ${a.expert}` : ""}${a.item ? ` · ${a.item}` : ""}` }))
    : [h("li", { text: t.none })]));
  $("corrections").replaceChildren(...(S.corrections || []).map((c) => h("li", {
    text: `${beijing(c.at)} ${c.member} · ${c.bidder} · ${c.item}${COLON}${c.old} → ${c.new}${paren(t.return_reasons[c.reason] || c.reason)}` })));
}

function renderRanking() {
  const r = S.ranking;
  $("ranking-panel").hidden = !r;
  if (!r) return;
  $("ranking").replaceChildren(h("thead", {}, h("tr", {}, [t.rank, t.bidder, "", t.total, t.candidate, t.decided_by]
    .map((x) => h("th", { scope: "col", text: x })))),
  h("tbody", {}, r.order.map((o) => h("tr", {}, h("td", { text: o.rank }), h("th", { scope: "row", text: o.bidder }),
    h("td", { text: bidderName(o.bidder) }),
    h("td", { class: "num", text: S.summary?.evaluated?.[o.bidder] != null ? fenToYuan(S.summary.evaluated[o.bidder])
      : S.summary?.bidders?.[o.bidder]?.total ?? "—" }),
    h("td", { text: r.candidates.includes(o.bidder) ? `${r.candidates.indexOf(o.bidder) + 1}` : "" }),
    h("td", { text: t.decided[o.decided_by] || t.decided_other })))));
}

function renderReport() {
  const rep = S.report;
  $("report-panel").hidden = !rep;
  if (!rep) return;
  $("report-hash").textContent = rep.sha256;
  $("report-deadline").textContent = beijing(rep.signing_deadline);
  $("report-pdf").href = `/api/v1/evaluation/sessions/${ctx.session}/report.pdf`;
  $("signatures").replaceChildren(...Object.keys(S.members).sort().map((code) => h("li", { "data-member": code },
    `${code}${COLON}`, h("span", { class: "badge", text: t.signature[rep.signatures?.[code]] || t.not_signed }))));
  const mine = ctx.member && rep.signatures?.[ctx.member];
  $("sign-box").hidden = !(ctx.role === "expert" && S.session.step === "signing" && !mine);
}

function renderChair() {
  const chair = isChair();
  $("chair-panel").hidden = !chair;
  $("ask-form").hidden = !chair;
  $("drive").hidden = !drives();
  if (!chair) return;
  const fill = (sel, options) => {
    const key = JSON.stringify(options);
    if (sel.dataset.key === key) return;
    sel.dataset.key = key;
    sel.replaceChildren(...options.map(([v, label]) => h("option", { value: v, text: label })));
  };
  const bidders = Object.keys(S.bidders).sort().map((b) => [b, b]);
  fill($("ret-member"), Object.keys(S.members).sort().map((c) => [c, c]));
  fill($("ret-bidder"), bidders);
  fill($("ask-bidder"), bidders);
  fill($("ret-item"), [["", t.whole_sheet], ...ctx.items.map((i) => [i.id, i.id])]);
  fill($("ret-reason"), Object.entries(t.return_reasons));
  fill($("back-to"), STEPS.slice(1, STEPS.indexOf(S.session.step)).map((k) => [k, t.steps[k]]));
}

// A question the platform wrote (a code and its parameters) reads in the page's language; its Chinese
// is the text as issued to the bidder. A question the chair typed is shown as typed.
function questionText(c) {
  const template = c.question_code && t.questions[c.question_code];
  if (!template) return c.question;
  const p = c.question_params || {};
  return fmt(template, { price: p.price_fen != null ? fenToYuan(p.price_fen) : "" });
}

function renderClarifications() {
  const list = Object.entries(S.clarifications || {}).sort(([a], [b]) => Number(a) - Number(b));
  $("clarifications").replaceChildren(...(list.length ? list.map(([id, c]) => h("li", { "data-clarification": id },
    h("strong", { text: `${c.bidder}${COLON}` }), h("span", { class: "question", text: questionText(c) }), h("br"),
    h("span", { class: "meta", text: `${t.asked} ${beijing(c.asked_at)} · ${t.deadline} ${beijing(c.deadline)} · ` }),
    c.answer ? h("span", { text: `${t.answer}${COLON}${c.answer}` }) : h("span", { class: "meta", text: t.no_answer })))
    : [h("li", { class: "meta", text: t.none })]));
}

function lockControls() {
  const off = S.session.locked || readonly;
  for (const el of document.querySelectorAll("#task button, #task input, #task textarea, #drive button, #chair-panel button, #sign-box button, #ask-form button, #reject-panel button, #adjust-form button, #replace-form button")) {
    el.disabled = off;
  }
}

function render() {
  if (!S) return;
  renderLock();
  renderHead();
  renderVenues();
  renderMembers();
  renderBidders();
  renderSummary();
  renderRanking();
  renderReport();
  renderChair();
  renderClarifications();
  renderDecisions(S, decisionsEnv);
  renderPrices(S, decisionsEnv);
  if (ctx.role === "expert") {
    $("me").hidden = false;
    renderTask($("task"), env, S);
  }
  lockControls();
  tick();
}

// --- the room -------------------------------------------------------------------------------------

const client = new RealtimeClient();
connectionBadge(client, $("conn"), t.state);
$("my-role").textContent = t.roles[ctx.role] || ctx.role;
const media = startMedia({ client, room: ctx.room, panel: $("media"), labels: t.media });
client.join(ctx.room, {
  onSnapshot(snapshot) { S = snapshot; render(); },
  onJoined() { media.start(); },
  onEvent(frame) {
    if (!S) return;
    S = applyPatch(S, frame.payload);
    if (frame.event === "eval.venue_up" && frame.payload.resumed) {
      const name = S.venues[frame.payload.venue]?.name || frame.payload.venue;
      const el = $("resumed");
      el.hidden = false;
      el.textContent = fmt(t.resumed, { venue: name, seconds: Math.round(frame.payload.lock_seconds ?? 0) });
    }
    render();
  },
  onPresence(p) {
    $("presence").textContent = fmt(t.presence, { list: clauses(Object.entries(p.roles || {}).map(([role, n]) =>
      fmt(t.connections, { role: t.roles[role] || role, users: n.users, connections: n.connections }))) });
  },
  onError(err) { say(failure(t, err)); },
});
client.connect();
setInterval(tick, 1000);
window.kbVenue = { client, state: () => S };  // for diagnostics (and the browser test's network drop)

// --- driving (main venue staff, or the chair) -------------------------------------------------------

wireDecisions(decisionsEnv);
wirePrices(decisionsEnv);
const driveStatus = $("drive-status");
$("next-step").addEventListener("click", () => send("eval.next", {}, driveStatus));
$("clock-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  send("eval.set_clock", { minutes: Number.parseInt($("clock-min").value, 10) }, driveStatus);
});
$("doc-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  send("eval.show_document", { id: $("doc-id").value.trim(), title: $("doc-title").value.trim(),
                               page: Number.parseInt($("doc-page").value, 10) || 1 }, driveStatus);
});
$("return-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const item = $("ret-item").value;
  send("eval.return_score", { member: $("ret-member").value, bidder: $("ret-bidder").value,
                              ...(item ? { item } : {}), reason: $("ret-reason").value }, $("chair-status"));
});
$("back-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  send("eval.request_back", { to: $("back-to").value, reason: $("back-reason").value.trim() }, $("chair-status"));
});
$("ask-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const ok = await send("eval.ask", { bidder: $("ask-bidder").value, question: $("ask-question").value.trim(),
                                      minutes: Number.parseInt($("ask-minutes").value, 10) }, $("ask-status"));
  if (ok) $("ask-question").value = "";
});

// --- signing the report -----------------------------------------------------------------------------

const signStatus = $("sign-status");
if (ctx.role === "expert") {
  loadKey(ctx.username).then((k) => { $("key-state").textContent = k?.registered ? t.key_ready : t.key_none; })
    .catch(() => { $("key-state").textContent = t.key_none; });
}
$("sign").addEventListener("click", async () => {
  try {
    const had = await loadKey(ctx.username);
    const key = await ensureKey(ctx.username);
    $("key-state").textContent = had?.registered ? t.key_ready : t.key_made;
    const signature = await signReport(key, S.report.sha256);
    if (await send("eval.sign", { signature }, signStatus)) say(t.signed_ok, signStatus);
  } catch (err) {
    say(err.name === "NotSupportedError" ? t.no_ed25519 : failure(t, err), signStatus);
  }
});
$("dissent-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const reason = $("dissent-reason").value.trim();
  if (!reason) { say(t.dissent_needed, signStatus); $("dissent-reason").focus(); return; }
  if (await send("eval.dissent", { reason }, signStatus)) say(t.dissent_ok, signStatus);
});
