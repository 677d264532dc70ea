// A bid's receipt: shown, downloadable as JSON, and verified here check by check (receipt_verify.js).
import { api, pageData, say, el, beijing, download, failure, paren, COLON } from "./util.js";
import { verifyReceipt } from "./receipt_verify.js";

const ctx = pageData("page-ctx");
const t = pageData("page-labels");
const root = document.getElementById("receipt-page");
let doc = null, keys = null;

function showBody(body) {
  // Labels from the catalogue (common/labels.py RECEIPT_FIELD); the receipt's own field names stay
  // in the downloaded JSON, and small beside each label, for whoever checks it by hand.
  const f = t.fields;
  const rows = [["submission", body.submission, true], ["tender", `${body.tender} / ${body.lot}`, false],
                ["bidder", `${body.bidder.name}${paren(body.bidder.credit_code)}`, false],
                ["received_at", `${beijing(body.received_at)}${paren(t.beijing)}`, false],
                ["envelope_sha256", body.envelope.sha256, true],
                ["size", body.envelope.size.toLocaleString(), false], ["commitment", body.commitment, true],
                ["key_id", body.key_id, true], ["audit_index", body.audit_index, false]];
  document.getElementById("body").replaceChildren(...rows.flatMap(([k, v, mono]) => [
    el("dt", {}, f[k] || k, " ", el("small", { class: "code", text: k === "envelope_sha256" ? "envelope.sha256" : k })),
    el("dd", { class: mono ? "mono" : "", text: String(v) })]));
}

async function verify(envelope) {
  const result = await verifyReceipt(doc, keys.vkey, { envelope, sm2Vkey: keys.sm2_vkey });
  document.getElementById("checks").replaceChildren(...result.checks.map((c) => el("li", {
    "data-check": c.name, "data-ok": String(c.ok), class: c.ok ? "ok" : c.ok === false ? "bad" : "skip" },
    el("span", { class: "mark", "aria-hidden": "true", text: c.ok ? "✔" : c.ok === false ? "✘" : "–" }), " ",
    el("strong", { text: t.checks[c.name] || c.name }), `${COLON}${c.ok ? t.ok : c.ok === false ? t.bad : t.skipped}`,
    c.detail ? el("span", { class: "meta mono", text: ` ${c.detail}` }) : null)));
  say(document.getElementById("verdict"), result.ok ? t.all_ok : t.not_ok, result.ok ? "ok" : "bad");
  root.dataset.verified = String(result.ok);
}

async function init() {
  try {
    doc = await api("GET", `/lots/${ctx.lot.id}/bid/receipt`);
  } catch (err) {
    say(document.getElementById("status"), err.status === 404 ? t.none : failure(t, err), "error");
    root.dataset.ready = "1";
    return;
  }
  keys = await api("GET", "/platform/keys"); // vkey, and sm2_vkey for a gm tender's receipt
  showBody(doc.receipt);
  const button = document.getElementById("download");
  button.disabled = false;
  button.addEventListener("click", () => download(`receipt-${doc.receipt.submission}.json`,
    JSON.stringify(doc, null, 2), "application/json"));
  document.getElementById("envelope").addEventListener("change", (ev) => verify(ev.target.files[0]));
  await verify();
  root.dataset.ready = "1";
}

init().catch((err) => say(document.getElementById("status"), failure(t, err), "error"));
