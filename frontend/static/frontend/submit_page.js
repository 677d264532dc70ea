// Seal and upload a bid in the browser: announced fields + documents → the bid package
// (bidpackage.js, a tar as sealbid makes it) → tender-envelope/v1 sealed to the certified key (and
// the tender's escrow key) → a resumable upload in pieces, with progress, pause and resume — also
// after a reload: the sealer's state (with its non-extractable payload key) and the package Blob
// are kept in IndexedDB (`kaibiao-uploads`/`uploads`, one record per lot) until the receipt is in.
import { api, pageData, say, el, fenToYuan, yuanToFen } from "./util.js";
import { announcedValues, buildPackage, FieldError } from "./bidpackage.js";
import { seal, Sealer } from "./crypto/envelope.js";
import { decode as unb64 } from "./crypto/b64.js";
import { getKey } from "./signkeys.js";

const ctx = pageData("page-ctx");
const t = pageData("page-labels");
const lot = ctx.lot;
const root = document.getElementById("submit-page");
const status = document.getElementById("status");
const form = document.getElementById("bid-form");
const bar = document.getElementById("bar");
const barText = document.getElementById("bar-text");
const pauseBtn = document.getElementById("pause-btn");
const continueBtn = document.getElementById("continue-btn");
let cert = null;
let job = null; // {sealer, uploadId, paused, running}
const OFFSET_MISMATCH = "upload_offset_mismatch";

// --- IndexedDB: the unfinished upload of this lot -------------------------------------------------
function db() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open("kaibiao-uploads", 1);
    req.onupgradeneeded = () => req.result.createObjectStore("uploads", { keyPath: "lotId" });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}
async function store(mode, fn) {
  const d = await db();
  return new Promise((resolve, reject) => {
    const tx = d.transaction("uploads", mode);
    const req = fn(tx.objectStore("uploads"));
    tx.oncomplete = () => resolve(req.result);
    tx.onerror = () => reject(tx.error);
  });
}
const loadPending = () => store("readonly", (s) => s.get(lot.id));
const savePending = (rec) => store("readwrite", (s) => s.put(rec));
const dropPending = () => store("readwrite", (s) => s.delete(lot.id));

// --- the form -------------------------------------------------------------------------------------
function fieldInput(d) {
  const id = `f-${d.key}`;
  const label = el("label", { for: id, text: `${d.label}${d.unit ? `（${d.unit}）` : ""}${d.required === false ? "" : " *"}` });
  let input;
  if (d.type === "choice") {
    input = el("select", { id, name: d.key }, el("option", { value: "", text: "—" }),
               ...(d.choices || []).map((c) => el("option", { value: c, text: c })));
  } else {
    input = el("input", { id, name: d.key, inputmode: d.type === "text" ? undefined : "decimal",
                          autocomplete: "off", "aria-describedby": `${id}-err` });
  }
  const err = el("span", { id: `${id}-err`, class: "field-error", "aria-live": "polite" });
  const p = el("p", {}, label, input, err);
  if (d.type === "money_fen") {
    const echo = el("span", { id: `${id}-echo`, class: "meta" });
    input.addEventListener("input", () => {
      const fen = yuanToFen(input.value);
      echo.textContent = fen === null || !input.value.trim() ? ""
        : t.price_check.replace("{yuan}", fenToYuan(fen)).replace("{fen}", fen);
    });
    p.append(echo);
  }
  return p;
}

function showFieldError(err) {
  for (const s of form.querySelectorAll(".field-error")) s.textContent = "";
  for (const i of form.querySelectorAll("[aria-invalid]")) i.removeAttribute("aria-invalid");
  if (!(err instanceof FieldError)) return false;
  const input = document.getElementById(`f-${err.key}`) || document.getElementById("files");
  const span = document.getElementById(`f-${err.key}-err`);
  if (span) span.textContent = t.field_errors[err.problem] || err.problem;
  input.setAttribute("aria-invalid", "true");
  input.focus();
  say(status, t.field_errors[err.problem] || err.problem, "error");
  return true;
}

// --- uploading ------------------------------------------------------------------------------------
function progress(offset, size) {
  bar.max = size;
  bar.value = offset;
  const pct = size ? Math.floor((offset * 100) / size) : 0;
  barText.textContent = `${offset.toLocaleString()} / ${size.toLocaleString()} ${t.bytes} (${pct}%)`;
  root.dataset.offset = String(offset);
  root.dataset.size = String(size);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function patch(uploadId, offset, bytes) {
  let lastError;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await api("PATCH", `/uploads/${uploadId}`, {
        body: bytes, headers: { "Upload-Offset": String(offset), "Content-Type": "application/offset+octet-stream" } });
    } catch (err) {
      lastError = err;
      if (err.status) throw err; // the server answered: the caller decides
      await sleep(400 * (attempt + 1));
    }
  }
  throw Object.assign(lastError, { network: !lastError.status });
}

async function run() {
  const { sealer, uploadId } = job;
  job.running = true;
  job.paused = false;
  pauseBtn.hidden = false;
  continueBtn.hidden = true;
  document.getElementById("upload-panel").hidden = false;
  try {
    let { offset } = await api("GET", `/uploads/${uploadId}`);
    let resyncs = 0;
    progress(offset, sealer.envelopeSize);
    say(status, t.uploading, "uploading");
    outer: while (offset < sealer.envelopeSize) {
      for await (const piece of sealer.pieces({ offset })) {
        if (job.paused) break outer;
        let res;
        try {
          res = await patch(uploadId, offset, piece);
        } catch (err) {
          if (err.network || (err.code !== OFFSET_MISMATCH && !(err.status >= 500)) || ++resyncs > 3) throw err;
          res = await api("GET", `/uploads/${uploadId}`); // out of step: resume from the server's offset
          offset = res.offset;
          continue outer;
        }
        offset = res.offset;
        resyncs = 0;
        progress(offset, sealer.envelopeSize);
      }
    }
    if (job.paused) {
      say(status, t.paused, "paused");
      pauseBtn.hidden = true;
      continueBtn.hidden = false;
      return;
    }
    say(status, t.completing, "completing");
    const submission = await api("POST", `/uploads/${uploadId}/complete`);
    await dropPending();
    pauseBtn.hidden = true;
    say(status, `${t.done} ${submission.sha256}`, "done");
    root.dataset.submission = submission.id;
    document.getElementById("done").hidden = false;
    document.getElementById("receipt-link").focus();
  } catch (err) {
    pauseBtn.hidden = true;
    continueBtn.hidden = false;
    say(status, err.network ? t.network : `${t.failed}: ${err.message} [${err.code || ""}]`, "error");
  } finally {
    job.running = false;
  }
}

pauseBtn.addEventListener("click", () => { if (job) job.paused = true; });
continueBtn.addEventListener("click", () => { if (job && !job.running) run(); });

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const files = Array.from(document.getElementById("files").files);
  const button = document.getElementById("seal-btn");
  try {
    const given = Object.fromEntries(lot.announced_fields.map((d) => [d.key, document.getElementById(`f-${d.key}`).value]));
    const fields = announcedValues(lot.announced_fields, given);
    showFieldError(null);
    if (!files.length) { document.getElementById("files").focus(); return say(status, t.no_files, "error"); }
    button.disabled = true;
    say(status, t.hashing, "hashing");
    const { blob } = await buildPackage({ tender: lot.tender, lot: lot.code, bidder: ctx.credit_code, fields, files });
    say(status, t.sealing, "sealing");
    const key = await getKey(cert.key_id);
    const recipients = [{ role: "bidder", publicKey: key.publicKey }];
    if (lot.escrow_required) {
      const escrow = await api("GET", `/lots/${lot.id}/escrow`);
      recipients.push({ role: "escrow", publicKey: unb64(escrow.public_key, 65) });
    }
    const sealer = await seal(blob, { tenderId: lot.tender, lotId: lot.code, bidderId: ctx.credit_code, recipients });
    const rec = { lotId: lot.id, state: sealer.state(), source: blob, uploadId: null,
                  names: files.map((f) => f.name), envelopeSize: sealer.envelopeSize, createdAt: new Date().toISOString() };
    await savePending(rec);
    const upload = await api("POST", `/lots/${lot.id}/uploads`, { json: { size: sealer.envelopeSize } });
    rec.uploadId = upload.id;
    await savePending(rec);
    form.hidden = true;
    job = { sealer, uploadId: upload.id };
    await run();
  } catch (err) {
    if (!showFieldError(err)) say(status, `${t.failed}: ${err.message} [${err.code || ""}]`, "error");
  } finally {
    button.disabled = false;
  }
});

async function offerResume(rec) {
  const panel = document.getElementById("resume-panel");
  let info = null;
  if (rec.uploadId) {
    try { info = await api("GET", `/uploads/${rec.uploadId}`); } catch { info = null; }
  }
  if (!info || info.status !== "open") { await dropPending(); return; }
  panel.hidden = false;
  document.getElementById("resume-info").textContent =
    `${t.resumable} ${rec.names.join("、")} — ${info.offset.toLocaleString()} / ${info.size.toLocaleString()} ${t.bytes}`;
  progress(info.offset, info.size);
  document.getElementById("resume-btn").onclick = async () => {
    panel.hidden = true;
    form.hidden = true;
    const sealer = await Sealer.resume(rec.state, rec.source);
    job = { sealer, uploadId: rec.uploadId };
    await run();
  };
  document.getElementById("discard-btn").onclick = async () => {
    try { await api("DELETE", `/uploads/${rec.uploadId}`); } catch { /* expired already */ }
    await dropPending();
    panel.hidden = true;
  };
}

async function init() {
  document.getElementById("fields").replaceChildren(...lot.announced_fields.map(fieldInput));
  const certs = await api("GET", "/certificates");
  cert = certs.find((c) => c.status === "issued") || null;
  const key = cert ? await getKey(cert.key_id) : null;
  const keyInfo = document.getElementById("key-info");
  if (!cert) say(keyInfo, t.no_cert, "error");
  else if (!key) say(keyInfo, `${cert.key_id} — ${t.no_key}`, "error");
  else { say(keyInfo, cert.key_id, "ok"); document.getElementById("seal-btn").disabled = false; }
  try {
    const bid = await api("GET", `/lots/${lot.id}/bid`);
    const current = document.getElementById("current");
    current.hidden = false;
    current.textContent = `${bid.status} · ${bid.received_at} · SHA-256 ${bid.sha256}`;
    document.getElementById("done").hidden = false;
  } catch { /* no bid yet */ }
  const rec = await loadPending();
  if (rec) await offerResume(rec);
  root.dataset.ready = "1";
}

init().catch((err) => say(status, `${t.failed}: ${err.message}`, "error"));
