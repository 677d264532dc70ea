// The opening hall (hall:<lot id>) for a bidder, the host or a supervisor (read-only). State is the
// room's snapshot plus its pushes, reduced as bidding/opening/views.apply does; rt.js replays or
// resyncs after a reconnect, so nothing shown is lost. The bidder's file key is unwrapped here with
// the key stored in this browser (a gm-v1 bid: with the SM2 key file the bidder opens here,
// hall_gm.js) and only the 32-byte key is released; the record is confirmed
// with an ECDSA signature made here (signkeys.js; a gm tender's: SM2, by the key file).
import { RealtimeClient, connectionBadge } from "./rt.js";
import { api, pageData, say, el, beijing, clock, fenToYuan, b64padded, failure, paren, clauses, COLON, CHINESE } from "./util.js";
import { parseHeader, unwrapFileKey } from "./crypto/envelope.js";
import { encode as b64, wipe } from "./crypto/b64.js";
import { getKey, signWith } from "./signkeys.js";
import { startMedia } from "./media.js";
import { KeyFileProblem, isGmHeader, signWithKeyFile, unwrapWithKeyFile } from "./hall_gm.js";

const ctx = pageData("page-ctx");
const t = pageData("page-labels");
const role = ctx.role;
const ROOM = ctx.room;
const $ = (id) => document.getElementById(id);
const root = $("hall");
const status = $("status");
let state = null;
let presence = null;
let hostOnline = null; // a bidder's view of the host side: true, false, or null while not known
const client = new RealtimeClient();
connectionBadge(client, $("conn"), t.state);
client.addEventListener("state", (ev) => {
  root.dataset.conn = ev.detail.state;
  // Without a socket the host's presence is not known; the push after the rejoin tells it again.
  if (["connecting", "reconnecting", "signed_out"].includes(ev.detail.state)) { hostOnline = null; renderHostPresence(); }
});

// --- the reducer (bidding.opening.views.apply) ----------------------------------------------------
function apply(s, event, p) {
  s = { ...s };
  if (event === "hall.phase") s.phase = p.phase;
  else if (["hall.bidders", "hall.progress", "hall.announced", "hall.coefficient", "hall.record"].includes(event)) Object.assign(s, p);
  else if (event === "hall.my_bid") { if (s.you.role === "bidder" && s.you.org === p.org) s.mine = p.mine; }
  else if (event === "hall.bid_status") { if (s.statuses) s.statuses = { ...s.statuses, [p.org]: p.status }; }
  else if (event === "hall.objection") {
    s.objections = [...s.objections.filter((o) => o.id !== p.objection.id), p.objection].sort((a, b) => a.id - b.id);
  } else if (event === "hall.chat") {
    if (!s.chat.some((m) => m.id === p.message.id)) s.chat = [...s.chat, p.message];
  } else if (event === "hall.confirmation") s.confirmations = { ...s.confirmations, [p.org]: p.state };
  return s;
}

// --- rendering ------------------------------------------------------------------------------------
// One name for an organisation everywhere on the page: the bidders on file, the announcement, or
// (before the deadline, for the host) the chat's own org_name.
const orgName = (org) => (state?.bidders || []).find((b) => b.org === org)?.name
  || (state?.announcement || []).find((b) => b.org === org)?.name
  || (state?.chat || []).find((m) => m.org === org && m.org_name)?.org_name || t.unknown_bidder;

function shownValue(f) {
  return f.key && (state.lot.announced_fields.find((d) => d.key === f.key)?.type === "money_fen")
    ? fenToYuan(f.value) : String(f.value);
}

function render() {
  if (!state) return;
  const ph = state.phase;
  root.dataset.phase = ph.phase;
  root.dataset.paused = String(ph.paused);
  $("phase").textContent = t.phase[ph.phase] || ph.phase;
  $("paused").hidden = !ph.paused;
  $("paused").textContent = ph.paused ? `${t.paused}${COLON}${ph.pause_reason}` : "";
  // bidders on file and progress
  const p = state.progress;
  $("progress").textContent = p ? t.progress.replace("{decrypted}", p.decrypted).replace("{total}", p.total)
    .replace("{pending}", p.pending) : (state.bidders === null ? t.bidders_hidden : "");
  // The decryption progress bar: the whole (decrypted or classified of all) and each bid's state.
  const bar = $("progress-bar");
  bar.hidden = !p || !p.total;
  if (p && p.total) {
    bar.max = p.total;
    bar.value = p.total - p.pending;
    bar.setAttribute("aria-valuetext", $("progress").textContent);
  }
  $("bidders").replaceChildren(...(state.bidders || []).map((b) => {
    const st = state.statuses?.[b.org] || (state.announcement || []).find((a) => a.org === b.org);
    const mine = role === "bidder" && b.org === ctx.org_id ? state.mine : null;
    const status = st?.status || mine?.status;
    return el("li", { "data-org": b.org, "data-status": status || "" }, el("span", { class: "org", text: b.name }),
      status ? el("span", { class: `badge ${status}`, text: t.bid_status[status] || "" }) : null);
  }));
  // coefficient
  const c = state.coefficient;
  $("coef-panel").hidden = !c?.enabled;
  if (c?.enabled) {
    $("coef").textContent = c.value ? `K = ${c.value}${paren(clauses([`${t.coef_seed} ${c.seed}`, `${t.coef_commitment} ${c.commitment}`]))}`
      : clauses([`${c.k_min} … ${c.k_max}${CHINESE ? "，" : ", "}${t.coef_step} ${c.k_step}`, `${t.coef_commitment} ${c.commitment || "—"}`]);
  }
  renderAnnouncement();
  renderMine();
  renderRecord();
  renderObjections();
  renderChat();
  renderHost();
  renderPresence();
}

function renderAnnouncement() {
  const fields = state.lot.announced_fields;
  $("ann-head").replaceChildren(el("tr", {}, el("th", { scope: "col", text: "#" }), el("th", { scope: "col", text: t.col_bidder }),
    el("th", { scope: "col", text: t.col_credit_code }), el("th", { scope: "col", text: t.col_status }),
    // The tender's own field names: its data, as the host wrote them (translate="no").
    ...fields.map((d) => el("th", { scope: "col", class: d.type === "money_fen" ? "num" : "", translate: "no",
                                   text: `${d.label}${d.unit ? paren(d.unit) : ""}` }))));
  // Each cell carries its column's name: at a phone's width the rows become cards (site.css).
  const rows = (state.announcement || []).map((b, i) => el("tr", { "data-org": b.org }, el("td", { text: String(i + 1), "data-label": "#" }),
    el("th", { scope: "row", text: b.name, "data-label": t.col_bidder }),
    el("td", { class: "mono", text: b.credit_code, "data-label": t.col_credit_code }),
    el("td", { class: "status", text: t.bid_status[b.status] || "", "data-label": t.col_status }),
    ...fields.map((d) => {
      const f = (b.fields || []).find((x) => x.key === d.key);
      return el("td", { class: d.type === "money_fen" ? "num price" : "", "data-key": d.key,
                        "data-label": `${d.label}${d.unit ? paren(d.unit) : ""}`, text: f ? shownValue(f) : "—" });
    })));
  $("ann-body").replaceChildren(...rows);
  root.dataset.announced = state.announcement ? "1" : "0";
  renderSpeech();
}

function renderMine() {
  if (role !== "bidder") return;
  const m = state.mine;
  $("mine").textContent = m ? `${t.bid_status[m.status] || ""}${m.last_error ? ` — ${t.decrypt_error}` : ""}` : "";
  root.dataset.mine = m ? m.status : "";
  // The key file is needed to decrypt, then again to sign the record.
  const confirming = state.phase.phase === "confirming" && !state.confirmations?.[ctx.org_id];
  if ($("gm-key")) $("gm-key").hidden = Boolean(m) && m.status !== "pending" && !confirming;
  $("decrypt").disabled = !(state.phase.phase === "decrypting" && !state.phase.paused && m && m.status === "pending");
  $("mine-fields").replaceChildren(...(m?.fields || []).map((f) => el("li", { translate: "no",
    text: `${f.label}${COLON}${shownValue(f)}${f.unit ? ` ${f.unit}` : ""}` })));
}

function renderRecord() {
  const r = state.record;
  $("record-panel").hidden = !r;
  if (!r) return;
  $("record-hash").textContent = r.hash;
  $("confirmations").replaceChildren(...Object.entries(state.confirmations).map(([org, s]) =>
    el("li", { "data-org": org, "data-state": s, text: `${orgName(org)}${COLON}${t.confirm_state[s] || ""}` })));
  if (role === "bidder") {
    $("confirm").disabled = !(state.phase.phase === "confirming" && !state.phase.paused && !state.confirmations[ctx.org_id]);
  }
}

function renderObjections() {
  $("objections").replaceChildren(...state.objections.map((o) => {
    const li = el("li", { "data-objection": o.id, class: "objection" },
      el("strong", { text: o.name }), ` ${beijing(o.raised_at)}${COLON}`, o.text,
      o.answer ? el("div", { class: "answer", text: `${t.answered}${paren(beijing(o.answered_at))}${COLON}${o.answer}` })
        : el("div", { class: "meta", text: t.awaiting_answer }));
    if (role === "host" && !o.answer) {
      const input = el("input", { "aria-label": `${t.answer} #${o.id}`, maxlength: 1000, size: 30, class: "answer-text" });
      li.append(el("form", { class: "row", onsubmit: (ev) => {
        ev.preventDefault();
        command("hall.answer", { objection: o.id, text: input.value });
      } }, input, el("button", { type: "submit", text: t.answer })));
    }
    return li;
  }));
}

function renderChat() {
  let messages = state.chat;
  if (role === "host") {
    const select = $("chat-org");
    const orgs = new Set([...(state.bidders || []).map((b) => b.org), ...state.chat.map((m) => m.org)]);
    const current = select.value;
    select.replaceChildren(...[...orgs].map((o) => el("option", { value: o, text: orgName(o) })));
    if (orgs.has(current)) select.value = current;
    messages = messages.filter((m) => m.org === select.value);
  }
  $("chat").replaceChildren(...(messages.length ? messages.map((m) => el("li", { class: `from-${m.from}` },
    el("span", { class: "meta", text: `${beijing(m.sent_at)} ${m.from === "host" ? t.host : role === "bidder" ? t.you : orgName(m.org)}${COLON}` }), m.text))
    : [el("li", { class: "meta", text: t.no_chat })]));
}

function renderHost() {
  if (role !== "host") return;
  const ph = state.phase;
  const open = !["closed", "failed"].includes(ph.phase);
  $("pause").disabled = !open || ph.paused;
  $("resume").disabled = !ph.paused;
  $("start-decryption").disabled = !(ph.phase === "deadline_passed" && !ph.paused);
  $("draw").disabled = !(ph.phase === "announced" && state.coefficient?.enabled && !state.coefficient.value);
  $("start-confirmation").disabled = !(ph.phase === "announced" && !ph.paused);
}

function renderPresence() {
  if (role === "bidder" || !presence) return;
  $("presence").replaceChildren(...presence.users.map((u) => el("li", { "data-role": u.role },
    `${u.name}${paren(t.roles[u.role] || t.roles.other)}`, u.connections > 1 ? ` ×${u.connections}` : "")));
}

// A bidder sees only whether the host side is online (the hall's presence view for bidders:
// nothing about other bidders, not even their number).
function renderHostPresence() {
  if (role !== "bidder") return;
  const badge = $("host-presence");
  badge.hidden = hostOnline === null;
  badge.dataset.online = hostOnline === null ? "" : hostOnline ? "1" : "0";
  badge.textContent = hostOnline === null ? "" : hostOnline ? t.host_online : t.host_offline;
}

function tick() {
  const now = client.now();
  $("server-time").textContent = beijing(now);
  if (!state) return;
  const ph = state.phase;
  let target = null, label = t.window_left;
  if (["scheduled", "signin_open"].includes(ph.phase)) { target = state.lot.bid_deadline; label = t.until_opening; }
  else if (ph.phase === "decrypting") target = ph.decryption_ends_at;
  else if (ph.phase === "confirming") target = ph.confirmation_ends_at;
  $("clock-label").textContent = label;
  $("countdown").textContent = ph.paused ? t.paused : target ? clock(new Date(target) - now) : "—";
}
setInterval(tick, 250);

// --- commands -------------------------------------------------------------------------------------
async function command(cmd, payload = {}) {
  try {
    const reply = await client.command(cmd, ROOM, payload);
    say(status, t.sent, "ok");
    return reply;
  } catch (err) {
    say(status, failure(t, err), "error");
    return null;
  }
}

// The organisation's current certificate of this tender's cipher suite: it may hold one of each
// suite (a P-256 one for intl tenders, an SM2 one for gm tenders); the record is signed by this one.
async function lotCert() {
  const certs = await api("GET", `/certificates/current?suite=${encodeURIComponent(ctx.lot.cipher_suite)}`);
  return certs.find((c) => c.suite === ctx.lot.cipher_suite) || null;
}

async function certKey() {
  const cert = await lotCert();
  return cert ? getKey(cert.key_id) : null;
}

// v1, v2, v3: the bidder's P-256 key stored in this browser (keystore.js).
async function storedKeyFileKey(raw) {
  const header = await parseHeader(raw);
  for (const s of header.stanzas.filter((x) => x.role === "bidder")) {
    const key = await getKey(s.keyId);
    if (key) return { fileKey: await unwrapFileKey(header, key, { role: "bidder" }), commitment: header.commitmentB64 };
  }
  return { fileKey: null };
}

// gm-v1: the bidder's SM2 key file, opened here with its password (hall_gm.js).
function gmFileKey(raw) {
  return unwrapWithKeyFile(raw, {
    file: $("gm-key-file")?.files[0], password: $("gm-key-password")?.value, t,
    onProgress: (done, total) => say(status, t.gm_opening.replace("{percent}", Math.floor((100 * done) / total)), "working"),
  });
}

// A gm tender's record is signed SM2 / SM3 by the key of the current SM2 certificate.
async function gmSignature(message) {
  const cert = await lotCert();
  return signWithKeyFile(message, cert?.key_id, {
    file: $("gm-key-file")?.files[0], password: $("gm-key-password")?.value, t,
    onProgress: (done, total) => say(status, t.gm_opening.replace("{percent}", Math.floor((100 * done) / total)), "working"),
  });
}

function wireBidder() {
  $("signin").addEventListener("click", () => {
    sessionStorage.setItem(`hall-signed-in:${ROOM}`, "1");
    join();
  });
  $("decrypt").addEventListener("click", async () => {
    $("decrypt").disabled = true;
    delete status.dataset.code;
    try {
      const res = await api("GET", `/lots/${state.lot.id}/bid/header`, { raw: true });
      const raw = new Uint8Array(await res.arrayBuffer());
      const { fileKey, commitment } = isGmHeader(raw) ? await gmFileKey(raw) : await storedKeyFileKey(raw);
      if (!fileKey) { say(status, t.no_key, "error"); return; }
      const payload = { file_key: b64(fileKey), commitment };
      wipe(fileKey);
      if (await command("hall.release_key", payload)) {
        say(status, t.released, "released");
        if ($("gm-key-password")) $("gm-key-password").value = "";
      }
    } catch (err) {
      say(status, err instanceof KeyFileProblem ? err.message : failure(t, err), "error");
      if (err instanceof KeyFileProblem) status.dataset.code = err.code; // which refusal, for the tests
    } finally {
      renderMine();
    }
  });
  $("confirm").addEventListener("click", async () => {
    delete status.dataset.code;
    try {
      const raw = ctx.lot.cipher_suite === "gm" ? await gmSignature(state.record.message)
        : await signWith(await certKey(), state.record.message);
      if (await command("hall.confirm", { signature: b64padded(raw), hash: state.record.hash })) {
        say(status, t.signed, "confirmed");
        if ($("gm-key-password")) $("gm-key-password").value = "";
      }
    } catch (err) {
      say(status, err instanceof KeyFileProblem ? err.message : failure(t, err), "error");
      if (err instanceof KeyFileProblem) status.dataset.code = err.code;
    }
  });
  $("object-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (await command("hall.object", { text: $("object-text").value })) $("object-text").value = "";
  });
}

function wireHost() {
  $("pause").addEventListener("click", () => {
    const reason = $("pause-reason").value.trim();
    if (!reason) { $("pause-reason").focus(); return say(status, t.reason_needed, "error"); }
    command("hall.pause", { reason });
  });
  $("resume").addEventListener("click", () => command("hall.resume"));
  $("start-decryption").addEventListener("click", () => command("hall.start_decryption"));
  $("draw").addEventListener("click", () => command("hall.draw_coefficient"));
  $("start-confirmation").addEventListener("click", () => command("hall.start_confirmation"));
  $("chat-org").addEventListener("change", renderChat);
}

function wireChat() {
  const input = $("chat-text");
  input.addEventListener("input", () => { $("chat-count").textContent = `${input.value.length}/300`; });
  $("chat-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const payload = { text: input.value };
    if (role === "host") payload.org = $("chat-org").value;
    if (await command("hall.chat", payload)) { input.value = ""; $("chat-count").textContent = "0/300"; }
  });
}

// The 唱标 read aloud (espeak-ng on the server): offered once the announcement is published. The host
// plays it into the hall; everyone can replay it.
function renderSpeech() {
  const box = $("tts");
  if (!state?.announcement || box.dataset.src) return;
  const audio = $("tts-audio");
  box.dataset.src = `/api/v1/lots/${ctx.lot.id}/opening/announcement.wav`;
  audio.src = box.dataset.src;
  audio.addEventListener("error", () => { $("tts-status").textContent = t.media.tts_unavailable; });
  box.hidden = false;
  if (role === "host") {
    media.mixIn(audio); // into the host's published audio: the hall and the recording hear it
    audio.play().catch(() => { /* the host presses play */ });
  }
}

// --- the room -------------------------------------------------------------------------------------
let joined = false;
const media = startMedia({ client, room: ROOM, panel: $("media"), labels: t.media, mixAudio: role === "host" });
function join() {
  if (joined) return;
  joined = true;
  if (role === "bidder") $("signin-row").hidden = true;
  client.join(ROOM, {
    onSnapshot(snapshot) { state = snapshot; render(); root.dataset.ready = "1"; },
    onJoined() { media.start(); },
    onEvent(frame) { state = apply(state, frame.event, frame.payload); render(); },
    onPresence(p) {
      presence = p;
      if (role === "bidder") { hostOnline = Boolean(p.host?.online); renderHostPresence(); }
      else renderPresence();
    },
    onError(err) { say(status, failure(t, err), "error"); },
  });
}

if (role === "bidder") wireBidder();
if (role === "host") wireHost();
if (role !== "supervisor") wireChat();
client.connect();
if (role !== "bidder" || sessionStorage.getItem(`hall-signed-in:${ROOM}`)) join();
else {
  // Before signing in: the lot and the countdown from the HTTP view of the hall.
  api("GET", `/lots/${ctx.lot.id}/opening`).then((snap) => { state = snap; render(); root.dataset.ready = "1"; });
}
