// The price scores and the price review on the venue page: per bidder the price scored, the
// deviation (exact and as used), the points deducted, the exact and the rounded score, with the
// benchmark, the mean, K and the rounding, so an expert can check each score by hand; the bids
// rejected above the ceiling, the abnormally low prices and the committee's decisions, the 清标
// findings and the corrections put to bidders. The chair's actions send the room commands of
// evaluation/actions_price_review.py and actions_bills.py. Rendered from the room state.
import { fenToYuan, list } from "./util.js";
import { fmt, h } from "./venue_tasks.js";

const $ = (id) => document.getElementById(id);

/** A "p/q" (or integer) fen text as yuan: exact when it is a whole number of fen, else "≈". */
export function ratioYuan(text) {
  if (text == null) return "—";
  const [p, q] = String(text).split("/");
  if (!q) return fenToYuan(p);
  const n = BigInt(p), d = BigInt(q);
  const neg = n < 0n;
  const a = neg ? -n : n;
  const fen = (2n * a + d) / (2n * d); // half up to the fen
  return `≈${neg ? "-" : ""}${fenToYuan(fen.toString())}`;
}

const approx = (pair) => (pair ? pair.approx.replace(/0+$/, "").replace(/\.$/, "") : "—");

function renderDetail(S, t) {
  const detail = S.summary?.price?.detail;
  $("price-meta").textContent = detail ? fmt(t.price_meta, {
    benchmark: ratioYuan(detail.benchmark?.exact), mean: detail.mean ? ratioYuan(detail.mean.exact) : "—",
    k: detail.k_percent ?? "—", kind: t.benchmarks[detail.rule?.benchmark?.kind] || "",
    deduction: detail.rule?.score?.kind === "deviation" ? (t.deductions[detail.rule.score.deduction] || "") : t.ratio,
    decimals: detail.rounding.decimals, mode: t.modes[detail.rounding.mode] || detail.rounding.mode,
  }) : "";
  const rows = Object.entries(detail?.bidders || {});
  $("price-detail").replaceChildren(...(rows.length ? [
    h("thead", {}, h("tr", {}, [t.bidder, t.price_scored, t.deviation, t.deviation_used, t.deduction, t.exact_score, t.price_score]
      .map((x) => h("th", { scope: "col", class: "num", text: x })))),
    h("tbody", {}, rows.map(([b, d]) => h("tr", { "data-bidder": b }, h("th", { scope: "row", text: b }),
      h("td", { class: "num", text: ratioYuan(d.price?.exact) }), h("td", { class: "num", text: approx(d.deviation) }),
      h("td", { class: "num", text: approx(d.deviation_used) }), h("td", { class: "num", text: approx(d.deduction) }),
      h("td", { class: "num", text: d.exact }), h("td", { class: "num", text: d.rounded })))),
  ] : []));
}

function reviewLines(S, t) {
  const review = S.price_review || {};
  const lines = [];
  const above = review.above_ceiling || {};
  for (const b of Array.isArray(above) ? above : Object.keys(above)) lines.push(fmt(t.above_ceiling, { bidder: b }));
  for (const [b, f] of Object.entries(review.low_price?.flags || {})) {
    const d = f.decision;
    lines.push(d ? fmt(t.low_decided, { bidder: b, decision: t.decisions[d.decision], reasons: d.reasons })
      : fmt(f.clarification ? t.low_asked : (f.percent_of_basis ? t.low_flagged : t.low_flagged_blind),
        { bidder: b, percent: f.percent_of_basis }));
  }
  for (const [b, c] of Object.entries(review.corrections || {})) {
    lines.push(fmt(t.correction, { bidder: b, status: t.correction_status[c.status] || c.status,
                                   price: c.proposed_fen != null ? fenToYuan(String(c.proposed_fen)) : "—" }));
  }
  for (const [b, r] of Object.entries(S.bills || {})) {
    const found = list(Object.entries(r.counts).map(([k, n]) => `${t.findings[k] || k} ${n}`)) || t.no_findings;
    lines.push(fmt(t.bill, { bidder: b, lines: r.lines, found }));
  }
  return lines;
}

export function renderPrices(S, env) {
  const { ctx, t: all } = env;
  const t = all.prices;
  const lines = reviewLines(S, t);
  const detail = S.summary?.price?.detail;
  $("price-panel").hidden = !detail && !lines.length && !["compliance", "scoring"].includes(S.session.step);
  if ($("price-panel").hidden) return;
  renderDetail(S, { ...t, bidder: all.bidder });
  $("price-review").replaceChildren(...(lines.length ? lines : [all.none]).map((text) => h("li", { text })));
  const chair = ctx.role === "expert" && S.session.chair === ctx.member;
  const scoring = S.session.step === "scoring";
  $("price-actions").hidden = !((chair && scoring) || ((chair || ctx.role === "main_staff") && S.session.step === "compliance"));
  $("low-actions").hidden = !(chair && scoring);
  const codes = Object.keys(S.bidders).filter((b) => S.bidders[b].status === "valid").sort();
  const sel = $("price-bidder");
  const key = codes.join(",");
  if (sel.dataset.key !== key) {
    sel.dataset.key = key;
    sel.replaceChildren(...codes.map((b) => h("option", { value: b, text: b })));
  }
}

export function wirePrices(env) {
  const { t, send } = env;
  const bidder = () => $("price-bidder").value;
  const status = $("price-status");
  $("low-ask").addEventListener("click", () => send("eval.low_price_ask", { bidder: bidder() }, status));
  for (const [id, decision] of [["low-accept", "accepted"], ["low-reject", "rejected"]]) {
    $(id).addEventListener("click", () => {
      const reasons = $("price-reasons").value.trim();
      if (!reasons) { status.textContent = t.reason_required; return; }
      send("eval.low_price_decide", { bidder: bidder(), decision, reasons }, status);
    });
  }
  $("bills-check").addEventListener("click", () => send("eval.check_bills", {}, status));
  $("correction-propose").addEventListener("click", () => send("eval.propose_correction", { bidder: bidder() }, status));
}
