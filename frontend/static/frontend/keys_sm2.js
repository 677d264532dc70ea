// The keys page's SM2 key, for tenders of the 国密 suite (docs/browser-crypto.md, "SM2 keys on the
// key page"): made here with sm.js, saved only as its tender-key/sm2-v1 key file (the one
// `sealbid keygen --suite gm` writes, which the hall opens at the opening), and certified by the
// platform's SM2 CA from a request built and signed here (csr.js). WebCrypto cannot hold an SM2
// key, so this browser keeps nothing: the scalar lives in the page until the request is sent, then
// is wiped. The SM modules are imported on the first press, not with the page.
import { api, download, failure, paren, say } from "./util.js";
import { buildSm2Csr, pem } from "./csr.js";

export function wireSm2Keys({ t, ctx, status, root, refresh }) {
  const $ = (id) => document.getElementById(id);
  let made = null; // {key: {scalar, point, keyId}, file}
  const name = () => `tender-key-sm2-${made.key.keyId}.json`;

  $("sm2-gen").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const pw = $("sm2-pw").value;
    if (pw.length < 10) return say(status, t.password_short, "error");
    if (pw !== $("sm2-pw2").value) return say(status, t.password_mismatch, "error");
    $("sm2-gen-btn").disabled = true;
    try {
      const [sm, { gmKeyId }, { writeGmKeyFile }] = await Promise.all([
        import("./crypto/sm.js"), import("./crypto/gm_header.js"), import("./crypto/gm_keyfile.js")]);
      if (made) made.key.scalar.fill(0);
      const { scalar, point } = sm.generateSm2Key();
      const file = await writeGmKeyFile({ scalar, point }, pw, {
        onProgress: (done, total) => say(status, t.sm2_writing.replace("{percent}", Math.floor((100 * done) / total)), "busy"),
      });
      made = { key: { scalar, point, keyId: gmKeyId(point) }, file };
      download(name(), file, "application/json");
      $("sm2-step").hidden = false;
      $("sm2-saved").checked = false;
      $("sm2-csr-btn").disabled = true;
      $("sm2-saved").focus();
      say(status, t.sm2_generated.replace("{key}", made.key.keyId), "generated");
      root.dataset.sm2Generated = made.key.keyId;
    } catch (err) {
      say(status, failure(t, err), "error");
    } finally {
      $("sm2-gen-btn").disabled = false;
    }
  });
  $("sm2-again").addEventListener("click", () => { if (made) download(name(), made.file, "application/json"); });
  $("sm2-saved").addEventListener("change", (ev) => { $("sm2-csr-btn").disabled = !ev.target.checked || !made; });
  $("sm2-csr-btn").addEventListener("click", async () => {
    $("sm2-csr-btn").disabled = true;
    try {
      const csrPem = pem(await buildSm2Csr(made.key, { organisation: ctx.organisation, creditCode: ctx.credit_code }));
      const cert = await api("POST", "/certificates", { json: { csr_pem: csrPem } });
      say(status, `${t.requested}${paren(cert.key_id)}`, "requested");
      made.key.scalar.fill(0); // certified: from now on the key is its file
      made = null;
      $("sm2-step").hidden = true;
      await refresh();
    } catch (err) {
      say(status, failure(t, err), "error");
      $("sm2-csr-btn").disabled = !made;
    }
  });
}
