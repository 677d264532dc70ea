// The committee's decisions on the venue page: rejecting all bids (R12 27) by vote, the claims that
// the time is insufficient and the extensions (Reg 48), replacing a member (staff request, supervisor
// decision), and the lowest-evaluated-price adjustments (chair) with the price table. Rendered from
// the room state like the rest of the page (venue_page.js); forms are built once and only refreshed.
import { beijing, clauses, fenToYuan, list, yuanToFen, COLON } from "./util.js";
import { fmt, h } from "./venue_tasks.js";

const $ = (id) => document.getElementById(id);

export function signedYuan(fen) {
  return `${fen < 0 ? "−" : "+"}${fenToYuan(Math.abs(fen))}`;
}

/** "−1,234.5" / "+12" / "12" 元 → signed integer fen, or null. */
export function signedFen(text) {
  const s = String(text).trim();
  const negative = /^[-−]/.test(s);
  const fen = yuanToFen(s.replace(/^[-−+]/, ""));
  if (fen === null || /^0*$/.test(fen)) return null;
  return (negative ? -1 : 1) * Number(fen);
}

function fill(sel, options) {
  const key = JSON.stringify(options);
  if (sel.dataset.key === key) return;
  sel.dataset.key = key;
  sel.replaceChildren(...options.map(([v, label]) => h("option", { value: v, text: label })));
}

// --- rejecting all bids ---------------------------------------------------------------------------

function renderRejectAll(S, env) {
  const { ctx, t } = env;
  const motion = S.reject_all;
  const decision = S.compliance;
  const open = decision?.may_reject_all && ["scoring", "signing", "done"].includes(S.session.step);
  $("reject-panel").hidden = !(open || motion);
  if ($("reject-panel").hidden) return;
  const valid = (decision?.passed || []).length;
  const lines = [h("p", { text: fmt(t.reject_intro, { valid }) })];
  if (motion) {
    lines.push(h("p", { text: fmt(t.reject_proposed, { code: motion.proposed_by, reason: motion.reason,
                                                        at: beijing(motion.proposed_at) }) }));
    lines.push(h("p", { class: "meta", text: `${fmt(t.round, { n: motion.round })} · ${fmt(t.voted, { codes: motion.voted.join(" ") || "—" })}` }));
    if (motion.decision) {
      lines.push(h("p", { class: motion.decision === "reject_all" ? "lock-banner" : "resumed", "data-decision": motion.decision,
        text: fmt(motion.decision === "reject_all" ? t.reject_decided : t.continue_decided,
                  { reject: motion.tally.reject, keep: motion.tally.continue }) }));
    }
  }
  $("reject-state").replaceChildren(...lines);
  const chair = ctx.role === "expert" && S.session.chair === ctx.member;
  $("reject-form").hidden = !(chair && open && !motion && S.session.step === "scoring");
  const mine = S.reject_vote?.[ctx.member];
  const canVote = ctx.role === "expert" && motion && !motion.decision && (mine === null || mine === undefined);
  $("reject-vote").hidden = !canVote;
  $("reject-continue").hidden = !(motion?.options || []).includes("continue");
  $("reject-mine").textContent = mine === true ? t.you_voted_reject : mine === false ? t.you_voted_continue : "";
}

// --- the time -------------------------------------------------------------------------------------

function renderTime(S, env) {
  const { ctx, t } = env;
  const time = S.session.time || { claims: [], extensions: [] };
  const sitting = Object.values(S.members).filter((m) => !m.replaced).length;
  $("time-claims").textContent = fmt(t.time_claims, { n: time.claims.length, total: sitting });
  $("time-extensions").replaceChildren(...time.extensions.map((e) => h("li", {
    text: fmt(t.time_extended, { step: t.steps[e.step] || e.step, from: beijing(e.from), to: beijing(e.to),
                                 codes: list(e.claims) }) })));
  const claimed = time.claims.includes(ctx.member);
  const button = $("time-short");
  button.hidden = !(ctx.role === "expert" && S.session.deadline && S.session.step !== "done");
  button.disabled = claimed || S.session.locked;
  button.textContent = claimed ? t.time_short_sent : t.time_short;
}

// --- replacements ---------------------------------------------------------------------------------

function renderReplacements(S, env) {
  const { ctx, t } = env;
  const rows = Object.entries(S.replacements || {}).sort(([a], [b]) => Number(a) - Number(b));
  $("replacements").replaceChildren(...rows.map(([id, r]) => {
    const state = r.approved === null ? t.replacement_waiting : r.approved
      ? fmt(t.replacement_done, { code: r.new_member }) : t.replacement_rejected;
    const li = h("li", { "data-replacement": id }, `${r.member} · ${t.replacement_reasons[r.reason] || r.reason}`,
      r.note ? ` · ${r.note}` : "", ` · ${beijing(r.requested_at)} · `, h("strong", { text: state }));
    if (r.approved === null && ctx.role === "supervisor") {
      li.append(" ", h("button", { type: "button", text: t.approve, "data-approve": id,
                                   onclick: () => env.send("eval.decide_replacement", { approve: true }, $("replace-status")) }),
      " ", h("button", { type: "button", class: "secondary", text: t.reject,
                         onclick: () => env.send("eval.decide_replacement", { approve: false }, $("replace-status")) }));
    }
    return li;
  }));
  const staff = ctx.role === "staff" || ctx.role === "main_staff";
  const open = !["signing", "done"].includes(S.session.step);
  $("replace-form").hidden = !(staff && open);
  // Experts see the replacements that exist, never an empty form of someone else's task.
  $("replace-box").hidden = !(staff && open) && rows.length === 0;
  if (!staff) return;
  const mine = Object.entries(S.members).filter(([, m]) => !m.replaced && (ctx.role === "main_staff" || m.venue === ctx.venue));
  fill($("replace-member"), mine.map(([c, m]) => [c, m.name ? `${c} ${m.name}` : c]));
  fill($("replace-reason"), Object.entries(t.replacement_reasons));
}

// --- lowest evaluated price ------------------------------------------------------------------------

function renderAdjustments(S, env) {
  const { ctx, t } = env;
  const lep = ctx.method === "lowest_evaluated_price";
  $("adjust-panel").hidden = !lep || !["scoring", "summary", "ranking", "signing", "done"].includes(S.session.step);
  if ($("adjust-panel").hidden) return;
  const adj = S.adjustments || {};
  const table = S.summary?.price_table;
  const codes = Object.keys(S.bidders).filter((b) => S.bidders[b].status === "valid").sort();
  $("adjustments").replaceChildren(h("thead", {}, h("tr", {}, [t.bidder, t.price_yuan, t.adjustments_h, t.adjustment_total, t.evaluated_price]
    .map((x) => h("th", { scope: "col", text: x })))),
  h("tbody", {}, codes.map((b) => {
    const entry = adj[b];
    const row = table?.[b];
    const price = S.bidders[b].price_fen;
    return h("tr", { "data-bidder": b }, h("th", { scope: "row", text: b }),
      h("td", { class: "num", text: price != null ? fenToYuan(price) : "—" }),
      h("td", { text: entry ? (entry.items.length ? clauses(entry.items.map((a) => `${a.reason}${COLON}${signedYuan(a.amount_fen)}`)) : t.no_adjustment) : t.not_recorded }),
      h("td", { class: "num", text: entry ? signedYuan(entry.total_fen) : "—" }),
      h("td", { class: "num", text: row ? fenToYuan(row.evaluated_fen) : "—" }));
  })));
  const chair = ctx.role === "expert" && S.session.chair === ctx.member && S.session.step === "scoring";
  $("adjust-form").hidden = !chair;
  if (chair) fill($("adjust-bidder"), codes.map((b) => [b, b]));
}

/** Parse the adjustment lines "reason | amount in 元" (one a line; empty: no adjustment). */
export function parseAdjustmentLines(text) {
  const out = [];
  for (const [n, line] of text.split("\n").entries()) {
    if (!line.trim()) continue;
    const cut = line.lastIndexOf("|");
    const reason = cut < 0 ? "" : line.slice(0, cut).trim();
    const amount = cut < 0 ? null : signedFen(line.slice(cut + 1));
    if (!reason || amount === null) return { error: n + 1 };
    out.push({ reason, amount_fen: amount });
  }
  return { adjustments: out };
}

export function renderDecisions(S, env) {
  renderRejectAll(S, env);
  renderTime(S, env);
  renderReplacements(S, env);
  renderAdjustments(S, env);
  const outcome = $("outcome");
  outcome.hidden = S.session.outcome !== "all_rejected";
  outcome.textContent = outcome.hidden ? "" : env.t.all_rejected;
}

export function wireDecisions(env) {
  const { t, send } = env;
  $("reject-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const reason = $("reject-reason").value.trim();
    if (!reason) { $("reject-status").textContent = t.reason_required; return; }
    send("eval.propose_reject_all", { reason }, $("reject-status"));
  });
  $("reject-yes").addEventListener("click", () => send("eval.vote_reject_all", { reject: true }, $("reject-status")));
  $("reject-continue").addEventListener("click", () => send("eval.vote_reject_all", { reject: false }, $("reject-status")));
  $("time-short").addEventListener("click", () => send("eval.time_insufficient", {}, $("time-status")));
  $("replace-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    send("eval.request_replacement", { member: $("replace-member").value, reason: $("replace-reason").value,
                                        note: $("replace-note").value.trim() }, $("replace-status"));
  });
  $("adjust-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const parsed = parseAdjustmentLines($("adjust-lines").value);
    if (parsed.error) { $("adjust-status").textContent = fmt(t.adjust_line_error, { n: parsed.error }); return; }
    send("eval.adjust_price", { bidder: $("adjust-bidder").value, adjustments: parsed.adjustments }, $("adjust-status"));
  });
}
