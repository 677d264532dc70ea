// The bidder's key set-up: generate (with a backup the user must save before going on) or import a
// key, request its certificate (PKCS#10 built and signed here), show the certificates' status; and,
// for tenders of the 国密 suite, an SM2 key kept in its key file (keys_sm2.js).
import { api, pageData, say, el, beijing, download, failure, list, paren, COLON } from "./util.js";
import { generateBidderKey, importBidderKey, listKeys } from "./signkeys.js";
import { buildCsrPem } from "./csr.js";
import { requestPersistence } from "./crypto/keystore.js";
import { readKeyFilePublic } from "./crypto/keyfile.js";
import { wireSm2Keys } from "./keys_sm2.js";

const ctx = pageData("page-ctx");
const t = pageData("page-labels");
const root = document.getElementById("keys-page");
const status = document.getElementById("status");
const csrKey = document.getElementById("csr-key");
const csrBtn = document.getElementById("csr-btn");
let backup = null;
let blocked = false; // a new key's backup is not confirmed saved yet

// Each suite's current certificate (at most one of each: a dual-certificate company holds both).
function showCurrent(current) {
  document.getElementById("current-certs").replaceChildren(...["intl", "gm"].flatMap((suite) => {
    const c = current.find((x) => x.suite === suite);
    return [el("dt", { text: t.current_of.replace("{suite}", t.suite[suite]) }),
      el("dd", { "data-suite": suite, "data-key": c ? c.key_id : "",
        text: c ? t.current_cert.replace("{key}", c.key_id).replace("{until}", beijing(c.not_after)) : t.current_none })];
  }));
}

async function refresh() {
  const [certs, keys, current] = await Promise.all([api("GET", "/certificates"), listKeys(),
    api("GET", "/certificates/current")]);
  showCurrent(current);
  const have = new Set(keys.map((k) => k.keyId));
  const body = document.getElementById("certs");
  body.replaceChildren(...(certs.length ? certs.map((c) => el("tr", { "data-status": c.status, "data-suite": c.suite },
    el("td", { class: "mono", text: c.key_id, title: t.suite[c.suite] || c.suite }),
    el("td", {}, el("span", { class: `badge ${c.status}`, text: t.cert[c.status] || c.status })),
    el("td", { text: c.not_after ? beijing(c.not_after) : "—" }),
    el("td", { text: c.suite === "gm" ? t.sm2_in_file : have.has(c.key_id) ? t.in_browser : t.not_in_browser }))) : [el("tr", {}, el("td", { colspan: 4, text: "—" }))]));
  const requested = new Set(certs.filter((c) => ["pending", "issued"].includes(c.status)).map((c) => c.key_id));
  document.getElementById("stored").textContent = keys.length
    ? `${t.stored}${COLON}` + list(keys.map((k) => `${k.keyId}${k.signKey ? "" : ` (${t.no_sign})`}`)) : t.no_key;
  csrKey.replaceChildren(...keys.filter((k) => k.signKey).map((k) =>
    el("option", { value: k.keyId, text: `${k.keyId}${requested.has(k.keyId) ? " ✓" : ""}` })));
  csrBtn.disabled = blocked || !csrKey.options.length;
  root.dataset.certs = certs.map((c) => c.status).join(",");
}

document.getElementById("gen").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const pw = document.getElementById("gen-pw").value, pw2 = document.getElementById("gen-pw2").value;
  if (pw.length < 10) return say(status, t.password_short, "error");
  if (pw !== pw2) return say(status, t.password_mismatch, "error");
  const button = document.getElementById("gen-btn");
  button.disabled = true;
  say(status, t.generating, "busy");
  try {
    const { key, backup: file } = await generateBidderKey({ password: pw, label: ctx.organisation });
    backup = { key, file };
    blocked = true;
    download(`tender-key-${key.keyId}.json`, file, "application/json");
    document.getElementById("backup-step").hidden = false;
    document.getElementById("backup-saved").checked = false;
    document.getElementById("backup-saved").focus();
    requestPersistence();
    say(status, `${t.generated}${COLON}${key.keyId}`, "generated");
    root.dataset.generated = key.keyId;
    await refresh();
  } catch (err) {
    say(status, failure(t, err), "error");
  } finally {
    button.disabled = false;
  }
});

document.getElementById("backup-again").addEventListener("click", () => {
  if (backup) download(`tender-key-${backup.key.keyId}.json`, backup.file, "application/json");
});
document.getElementById("backup-saved").addEventListener("change", (ev) => {
  blocked = !ev.target.checked;
  if (backup) csrKey.value = backup.key.keyId;
  csrBtn.disabled = blocked || !csrKey.options.length;
});

document.getElementById("imp").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const file = document.getElementById("imp-file").files[0];
  try {
    const data = new Uint8Array(await file.arrayBuffer());
    // Another company's key is refused before it enters this browser (its certificate names them).
    const { keyId } = await readKeyFilePublic(data);
    const { holder } = await api("GET", `/certificates/keys/${keyId}`);
    if (holder === "another") {
      root.dataset.refused = keyId;
      return say(status, t.other_company.replace("{key}", keyId).replace("{org}", ctx.organisation), "error");
    }
    const key = await importBidderKey(data, document.getElementById("imp-pw").value, { label: ctx.organisation });
    say(status, `${t.imported} ${key.keyId}`, "imported");
    root.dataset.imported = key.keyId;
    await refresh();
    csrKey.value = key.keyId;
  } catch (err) {
    say(status, err.name === "WrongPassword" ? t.wrong_password
      : err.name === "InvalidKeyFile" ? t.not_key_file : failure(t, err), "error");
  }
});

csrBtn.addEventListener("click", async () => {
  csrBtn.disabled = true;
  try {
    const key = (await listKeys()).find((k) => k.keyId === csrKey.value);
    const csrPem = await buildCsrPem(key, { organisation: ctx.organisation, creditCode: ctx.credit_code });
    const cert = await api("POST", "/certificates", { json: { csr_pem: csrPem } });
    say(status, `${t.requested}${paren(cert.key_id)}`, "requested");
    await refresh();
  } catch (err) {
    say(status, failure(t, err), "error");
  } finally {
    csrBtn.disabled = blocked || !csrKey.options.length;
  }
});

wireSm2Keys({ t, ctx, status, root, refresh });

refresh().then(() => { root.dataset.ready = "1"; }, (err) => say(status, failure(t, err), "error"));
