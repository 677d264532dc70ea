// Hosts and administrators approve or reject bidders' certificate requests.
import { api, pageData, say, el, beijing, failure, COLON } from "./util.js";

const t = pageData("page-labels");
const root = document.getElementById("certs-page");
const status = document.getElementById("status");
const rows = document.getElementById("rows");

async function decide(cert, approve, reason = "") {
  try {
    await api("POST", `/certificates/${cert.id}/${approve ? "approve" : "reject"}`,
              approve ? {} : { json: { reason } });
    await refresh();
    say(status, `${cert.organisation} · ${cert.key_id}${COLON}${t.cert[approve ? "issued" : "rejected"]}`, "done");
  } catch (err) {
    say(status, failure(t, err), "error");
  }
}

function row(c) {
  const reason = el("input", { "aria-label": t.reason, placeholder: t.reason, size: 14 });
  const actions = c.status === "pending" ? el("td", {},
    el("button", { type: "button", "data-approve": c.key_id, onclick: () => decide(c, true), text: t.approve }), " ",
    reason, " ",
    el("button", { type: "button", class: "danger", onclick: () => decide(c, false, reason.value), text: t.reject }))
    : el("td", { text: c.reason || "" });
  return el("tr", { "data-status": c.status }, el("td", { text: c.organisation }),
            el("td", { class: "credit-code", text: c.credit_code }),
            el("td", { class: "mono", text: c.key_id }), el("td", { text: beijing(c.created_at) }),
            el("td", {}, el("span", { class: `badge ${c.status}`, text: t.cert[c.status] || c.status })), actions);
}

async function refresh() {
  const certs = await api("GET", "/certificates");
  certs.sort((a, b) => (a.status === "pending" ? 0 : 1) - (b.status === "pending" ? 0 : 1) || b.id - a.id);
  rows.replaceChildren(...(certs.length ? certs.map(row) : [el("tr", {}, el("td", { colspan: 5, text: t.none }))]));
  root.dataset.pending = String(certs.filter((c) => c.status === "pending").length);
}

refresh().then(() => { root.dataset.ready = "1"; }, (err) => say(status, failure(t, err), "error"));
