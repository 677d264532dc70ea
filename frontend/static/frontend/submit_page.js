// Seal and upload a bid in the browser: announced fields + documents → the bid package
// (bidpackage.js, a tar as sealbid makes it) → tender-envelope/v1 sealed to the certified key (and
// the dealt escrow key of a tender set up before v2), or v3 with the file key split among the
// tender's custodians (crypto/escrow.js), or for a gm tender gm-v1 to the SM2 certificate's key
// (crypto/envelope_gm.js) → a resumable upload, pipelined (uploader.js), with one progress bar
// across hashing, sealing and sending (bytes, speed, time left), pause and resume — also after a
// reload. The documents' SHA-256, the encryption and the envelope's SHA-256 run in a Worker
// (sealing.js) in constant memory; the receipt's SHA-256 must be the one this browser computed.
//
// IndexedDB (`kaibiao-uploads`/`uploads`, one record per lot, until the receipt is in) keeps what
// a reload needs, once: the sealer's state (with its non-extractable payload key), the manifest
// (a few hundred bytes) and the File handles — not the package; and, once every byte is on the
// server, the envelope's SHA-256, so that a page reloaded after `complete` was asked (its answer
// lost) asks again and checks the receipt against it.
import { api, pageData, say, el, fenToYuan, yuanToFen, clock, failure, list, paren } from "./util.js";
import { announcedValues, buildPackage, packageBlob, FieldError } from "./bidpackage.js";
import { seal, Sealer } from "./crypto/envelope.js";
import { custodiansFromEscrow } from "./crypto/escrow.js";
import { decode as unb64 } from "./crypto/b64.js";
import { getKey } from "./signkeys.js";
import { SealingWorker } from "./sealing.js";
import { Cancelled, completeUpload, envelopeSha256, sendEnvelope, startEnvelope } from "./uploader.js";
import { checkFiles, closeAtDeadline, confirmReplace, rememberSubmitted, showCurrent } from "./submit_guard.js";

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
const cancelBtn = document.getElementById("cancel-btn");
const worker = new SealingWorker();
let cert = null;
let job = null; // {sealer, uploadId, names, controller, running, work}
let currentBid = null; // the bid a new submission would replace

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
    tx.oncomplete = () => { d.close(); resolve(req.result); };
    tx.onerror = () => { d.close(); reject(tx.error); };
  });
}
const loadPending = () => store("readonly", (s) => s.get(lot.id));
const savePending = (rec) => store("readwrite", (s) => s.put(rec));
const dropPending = () => store("readwrite", (s) => s.delete(lot.id));
const notePending = (changes) => store("readwrite", (s) => {
  const req = s.get(lot.id);
  req.onsuccess = () => { if (req.result) s.put({ ...req.result, ...changes }); };
  return req;
});

// --- the form -------------------------------------------------------------------------------------
function fieldInput(d) {
  const id = `f-${d.key}`;
  // The tender's own field names: its data, as the host wrote them (translate="no").
  const label = el("label", { for: id, translate: "no",
                              text: `${d.label}${d.unit ? paren(d.unit) : ""}${d.required === false ? "" : " *"}` });
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
  const span = document.getElementById(`f-${err.key}-err`) || document.getElementById("f-files-err");
  const text = (t.field_errors[err.problem] || err.problem).replace("{file}", err.file || "");
  if (span) span.textContent = text;
  input.setAttribute("aria-invalid", "true");
  input.focus();
  say(status, text, "error");
  return true;
}

// --- progress: one bar for the whole job, redrawn every 100 ms (at most 250 ms apart under load) --
// `work` is kept current by the steps: {phase, done(), total()}. Speed is over the last 3 s.
const TICK_MS = 100;
const WINDOW_MS = 3000;
let ticker = null, samples = [];

function mb(bytes) {
  return (bytes / 1e6).toLocaleString(undefined, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
}

function render() {
  if (!job?.work) return;
  const w = job.work, now = performance.now();
  const done = Math.min(w.done(), w.total()), total = w.total();
  samples.push([now, done]);
  while (samples.length > 2 && now - samples[0][0] > WINDOW_MS) samples.shift();
  const [t0, d0] = samples[0];
  const speed = now > t0 ? ((done - d0) * 1000) / (now - t0) : 0;
  bar.max = Math.max(1, total);
  bar.value = done;
  const pct = total ? Math.floor((done * 100) / total) : 0;
  const left = speed > 0 ? t.time_left.replace("{time}", clock(((total - done) / speed) * 1000)) : "";
  barText.textContent = `${t.phases[w.phase] || ""} ${mb(done)} / ${mb(total)} MB (${pct}%) · `
    + `${mb(speed)} MB/s${left ? ` · ${left}` : ""}`;
  Object.assign(root.dataset, { phase: w.phase, done: String(done), total: String(total),
                                ticks: String(Number(root.dataset.ticks || 0) + 1) });
  if (job.uploadProgress) {
    root.dataset.offset = String(job.uploadProgress.sent ?? 0);
    root.dataset.size = String(job.uploadProgress.total ?? 0);
  }
}

function startTicker(work) {
  job.work = work;
  samples = [];
  document.getElementById("upload-panel").hidden = false;
  render();
  clearInterval(ticker);
  ticker = setInterval(render, TICK_MS);
}

function stopTicker() {
  render();
  clearInterval(ticker);
  ticker = null;
}

// --- uploading ------------------------------------------------------------------------------------
function buttons({ running }) {
  pauseBtn.hidden = !running;
  continueBtn.hidden = running;
  cancelBtn.hidden = running;
}

async function run(started = null) {
  const { sealer, uploadId } = job;
  job.running = true;
  job.controller = new AbortController();
  buttons({ running: true });
  const before = job.hashedDocs || 0; // bytes of documents hashed before sealing (0 on a resume)
  const up = { sent: 0, hashed: 0, resumedAt: 0, total: sealer.envelopeSize, phase: "uploading" };
  job.uploadProgress = up;
  // The bar: documents hashed, then each envelope byte re-checked (a resume) or sent.
  startTicker({
    get phase() { return up.phase === "checking" ? "checking" : up.phase === "hashing" ? "completing" : "uploading"; },
    done: () => before + Math.min(up.hashed, up.resumedAt) + (up.sent - up.resumedAt),
    total: () => before + up.total,
  });
  try {
    say(status, t.uploading, "uploading");
    const { sha256 } = await sendEnvelope({ sealer, uploadId, worker, progress: up, signal: job.controller.signal,
                                            started, getStatus: () => api("GET", `/uploads/${uploadId}`) });
    await notePending({ sha256 });
    await complete(uploadId, sha256);
  } catch (err) {
    stopTicker();
    buttons({ running: false });
    if (err instanceof Cancelled) say(status, t.paused, "paused");
    else say(status, err.network ? t.network : failure(t, err), "error");
  } finally {
    job.running = false;
  }
}

/** Ask the platform to complete the upload (idempotent: again, for one already complete) and show
 *  the receipt, if its SHA-256 is `sha256`, the one this browser computed. */
async function complete(uploadId, sha256) {
  say(status, t.completing, "completing");
  // While the platform cannot sign, the completion is pending and kept even past the deadline:
  // say so, and ask again (uploader.js).
  const submission = await completeUpload(() => api("POST", `/uploads/${uploadId}/complete`), {
    signal: job?.controller?.signal,
    onPending: () => say(status, t.signing_pending, "pending"),
    onRetry: () => say(status, t.completing, "completing"),
  });
  await dropPending();
  rememberSubmitted(lot.id, submission, job.names || []);
  currentBid = submission;
  showCurrent(t, lot.id, submission);
  stopTicker();
  buttons({ running: true });
  pauseBtn.hidden = true;
  root.dataset.submission = submission.id;
  root.dataset.sha256 = sha256;
  if (submission.sha256 !== sha256) {
    say(status, `${t.receipt_mismatch} (${submission.sha256} ≠ ${sha256})`, "error");
    return;
  }
  say(status, `${t.done} ${submission.sha256}`, "done");
  document.getElementById("done").hidden = false;
  document.getElementById("receipt-link").focus();
}

pauseBtn.addEventListener("click", () => job?.controller?.abort());
continueBtn.addEventListener("click", () => { if (job && !job.running) run(); });
cancelBtn.addEventListener("click", async () => {
  if (!job || job.running) return;
  try { await api("DELETE", `/uploads/${job.uploadId}`); } catch { /* expired already */ }
  await dropPending();
  job = null;
  document.getElementById("upload-panel").hidden = true;
  form.hidden = false;
  say(status, t.discarded, "discarded");
});

/** The sealer of a gm tender: tender-envelope/gm-v1 to the SM2 certificate's key (envelope_gm.js,
 *  loaded only on such a tender's page). The platform names no custodians for a gm tender. */
async function sealGmBid(blob) {
  const { sealGm } = await import("./crypto/envelope_gm.js");
  return sealGm(blob, { tenderId: lot.tender, lotId: lot.code, bidderId: ctx.credit_code,
                        recipients: [{ role: "bidder", publicKey: unb64(cert.public_key, 65) }] });
}

/** A gm tender's certificate check: an SM2 certificate whose key id is its point's. */
async function gmCertificateOk() {
  if (cert.suite !== "gm") return false;
  const { gmKeyId } = await import("./crypto/envelope_gm.js");
  try {
    return gmKeyId(unb64(cert.public_key, 65)) === cert.key_id;
  } catch {
    return false;
  }
}

/** seal()'s recipients, and for a tender with custodians the split among them (v3). */
async function recipientsFor() {
  const key = await getKey(cert.key_id);
  const recipients = [{ role: "bidder", publicKey: key.publicKey }];
  if (!lot.escrow_required) return { recipients };
  const escrow = await api("GET", `/lots/${lot.id}/escrow`);
  if (escrow.scheme === "dealer") return { recipients: [...recipients, { role: "escrow", publicKey: unb64(escrow.public_key, 65) }] };
  try {
    return { recipients, ...custodiansFromEscrow(escrow) };
  } catch {
    throw new Error(t.needs_sealbid); // more than 7 custodians: v2, which only sealbid writes
  }
}

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const files = Array.from(document.getElementById("files").files);
  const button = document.getElementById("seal-btn");
  try {
    const given = Object.fromEntries(lot.announced_fields.map((d) => [d.key, document.getElementById(`f-${d.key}`).value]));
    const fields = announcedValues(lot.announced_fields, given);
    showFieldError(null);
    if (!files.length) { document.getElementById("files").focus(); return say(status, t.no_files, "error"); }
    await checkFiles(files);
    if (currentBid && !(await confirmReplace(t, lot.id, currentBid))) return say(status, t.kept, "kept");
    button.disabled = true;
    const ids = { tender: lot.tender, lot: lot.code, bidder: ctx.credit_code, fields, files, sealer: ctx.sealer };
    // The bar starts now: its total is known before anything is read (the manifest's length
    // does not depend on the hashes' values).
    const docBytes = files.reduce((n, f) => n + f.size, 0);
    const estimate = buildPackage({ ...ids, hashes: files.map(() => "0".repeat(64)) }).blob.size;
    let hashed = 0;
    job = { hashedDocs: 0 };
    startTicker({ phase: "hashing", done: () => hashed, total: () => docBytes + estimate });
    say(status, t.hashing, "hashing");
    const hashes = await worker.files(files, (n) => { hashed = n; });
    const { manifest, blob } = buildPackage({ ...ids, hashes });
    job.work.phase = "sealing";
    say(status, t.sealing, "sealing");
    const sealer = lot.cipher_suite === "gm" ? await sealGmBid(blob)
      : await seal(blob, { tenderId: lot.tender, lotId: lot.code, bidderId: ctx.credit_code, ...(await recipientsFor()) });
    const upload = await api("POST", `/lots/${lot.id}/uploads`, { json: { size: sealer.envelopeSize } });
    // The Worker starts on the envelope while the browser's record is written.
    const started = startEnvelope(sealer, worker, upload);
    try {
      await savePending({ lotId: lot.id, state: sealer.state(), manifest, files, uploadId: upload.id,
                          names: files.map((f) => f.name), envelopeSize: sealer.envelopeSize,
                          createdAt: new Date().toISOString() });
    } catch (err) {
      started.env.abort();
      throw err;
    }
    form.hidden = true;
    Object.assign(job, { sealer, uploadId: upload.id, hashedDocs: docBytes, names: files.map((f) => f.name) });
    await run(started);
  } catch (err) {
    stopTicker();
    if (!showFieldError(err)) say(status, failure(t, err), "error");
  } finally {
    button.disabled = Boolean(form.dataset.closed);
  }
});

/** A source for `rec`'s sealer: a record from before the manifest was kept holds the package Blob. */
const recordSealer = (rec) => Sealer.resume(rec.state, rec.manifest ? packageBlob(rec.manifest, rec.files) : rec.source);

/**
 * Every byte was on the server and `complete` was asked, but the page went before its answer came
 * (a reload, a lost reply): ask again (the platform answers a completed upload with the same
 * submission) and check the receipt against the envelope's SHA-256 the page kept — or, in a record
 * from before it was kept, the SHA-256 computed again from the files.
 */
async function finishCompleted(rec) {
  form.hidden = true;
  job = { uploadId: rec.uploadId, hashedDocs: 0, names: rec.names };
  try {
    let sha256 = rec.sha256;
    if (!sha256) {
      const sealer = await recordSealer(rec);
      const up = { sent: 0, hashed: 0, resumedAt: sealer.envelopeSize, total: sealer.envelopeSize };
      startTicker({ phase: "checking", done: () => up.hashed, total: () => up.total });
      sha256 = await envelopeSha256(sealer, worker, up);
    }
    await complete(rec.uploadId, sha256);
  } catch (err) {
    stopTicker();
    say(status, failure(t, err), "error");
  }
}

async function offerResume(rec) {
  const panel = document.getElementById("resume-panel");
  let info = null;
  if (rec.uploadId) {
    try { info = await api("GET", `/uploads/${rec.uploadId}`); } catch { info = null; }
  }
  if (info?.status === "complete") return finishCompleted(rec);
  if (!info || info.status !== "open") { await dropPending(); return; }
  panel.hidden = false;
  document.getElementById("resume-info").textContent =
    `${t.resumable} ${list(rec.names)} — ${info.offset.toLocaleString()} / ${info.size.toLocaleString()} ${t.bytes}`;
  root.dataset.offset = String(info.offset);
  root.dataset.size = String(info.size);
  document.getElementById("resume-btn").onclick = async () => {
    panel.hidden = true;
    form.hidden = true;
    try {
      const sealer = await recordSealer(rec);
      job = { sealer, uploadId: rec.uploadId, hashedDocs: 0, names: rec.names };
      await run();
    } catch (err) {
      say(status, failure(t, err), "error");
    }
  };
  document.getElementById("discard-btn").onclick = async () => {
    try { await api("DELETE", `/uploads/${rec.uploadId}`); } catch { /* expired already */ }
    await dropPending();
    panel.hidden = true;
  };
}

async function init() {
  document.getElementById("fields").replaceChildren(...lot.announced_fields.map(fieldInput));
  // the current certificate of this tender's suite (the organisation may hold one of each suite)
  const certs = await api("GET", `/certificates/current?suite=${encodeURIComponent(lot.cipher_suite)}`);
  cert = certs.find((c) => c.suite === lot.cipher_suite) || null;
  const gmSuite = lot.cipher_suite === "gm"; // the SM2 key is not a WebCrypto key: only its certificate is needed
  const key = cert && !gmSuite ? await getKey(cert.key_id) : null;
  const keyInfo = document.getElementById("key-info");
  if (!cert) say(keyInfo, gmSuite ? t.gm_cert : t.no_cert, "error");
  else if (gmSuite && !(await gmCertificateOk())) say(keyInfo, `${cert.key_id} — ${t.gm_cert}`, "error");
  else if (gmSuite) { say(keyInfo, `${cert.key_id} — ${t.gm_key}`, "ok"); document.getElementById("seal-btn").disabled = false; }
  else if (!key) say(keyInfo, `${cert.key_id} — ${t.no_key}`, "error");
  else { say(keyInfo, cert.key_id, "ok"); document.getElementById("seal-btn").disabled = false; }
  try {
    currentBid = await api("GET", `/lots/${lot.id}/bid`);
    showCurrent(t, lot.id, currentBid);
    document.getElementById("done").hidden = false;
  } catch { /* no bid yet */ }
  closeAtDeadline(t, ctx, form);
  const rec = await loadPending();
  if (rec && !form.dataset.closed) await offerResume(rec);
  root.dataset.ready = "1";
}

init().catch((err) => say(status, failure(t, err), "error"));
