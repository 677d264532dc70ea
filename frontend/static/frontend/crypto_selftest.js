// The test-only crypto page (tests/e2e): the modules under crypto/ as window.kb, and a round trip
// the button runs. A file, not an inline block: the pages' Content-Security-Policy runs no inline script.
import * as b64 from "./crypto/b64.js";
import * as hpke from "./crypto/hpke.js";
import * as stream from "./crypto/stream.js";
import * as envelope from "./crypto/envelope.js";
import * as keyfile from "./crypto/keyfile.js";
import * as keystore from "./crypto/keystore.js";
import * as escrow from "./crypto/escrow.js";
import * as gm from "./crypto/envelope_gm.js";
import * as sm from "./crypto/sm.js";
import * as gmkeyfile from "./crypto/gm_keyfile.js";
import * as csr from "./csr.js";
import * as receipt from "./receipt_verify.js";

async function roundTrip() {
  const pair = await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, false, ["deriveBits"]);
  const bid = b64.utf8("投标报价 123456789 分");
  const sealer = await envelope.seal(bid, {
    tenderId: "SELFTEST", lotId: "1", bidderId: "SELFTEST",
    recipients: [{ role: "bidder", publicKey: pair.publicKey }], chunkSize: 64,
  });
  const data = new Uint8Array(await (await sealer.toBlob()).arrayBuffer());
  const fileKey = await envelope.unwrapFileKey(await envelope.parseHeader(data), pair);
  const opened = await envelope.openToBytes(data, { fileKey });
  return b64.fromUtf8(opened) === "投标报价 123456789 分";
}

const button = document.getElementById("run");
const result = document.getElementById("result");
button.addEventListener("click", async () => {
  result.textContent = "…";
  try {
    result.textContent = (await roundTrip()) ? "OK" : "FAILED: wrong plaintext";
  } catch (error) {
    result.textContent = `FAILED: ${error.name}: ${error.message}`;
  }
});
button.disabled = false;
window.kb = { b64, hpke, stream, envelope, escrow, gm, sm, gmkeyfile, csr, receipt, keyfile, keystore, roundTrip, ready: true };
