// The expert's task in the current step: sign-in, pledge, chair vote, compliance forms, scoring
// forms (validated exactly, scoring.js), corrections of returned scores. A form is built once per
// (step, bidders) and then only refreshed: what an expert is typing survives every event, every
// reconnect and every snapshot.
import { COLON } from "./util.js";
import { checkSheet, scoreProblem, sumDecimals } from "./scoring.js";

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c);
  return el;
}

export const fmt = (text, vars) => text.replace(/\{(\w+)\}/g, (_, k) => (k in vars ? vars[k] : `{${k}}`));

function memberLabel(S, code) {
  const m = S.members[code] || {};
  return m.name ? `${code} ${m.name}` : code;
}

function validBidders(S) {
  return Object.keys(S.bidders).filter((b) => S.bidders[b].status === "valid").sort();
}

// --- per step -------------------------------------------------------------------------------------

function signIn(env) {
  const { t, send } = env;
  const status = h("p", { id: "signin-state" });
  const button = h("button", { type: "button", id: "sign-in", text: t.sign_in_button,
                               onclick: () => send("eval.sign_in", {}) });
  return { el: h("div", {}, h("p", { text: t.sign_in_help }), button, status),
           refresh(S, me) {
             button.hidden = me.signed_in;
             status.textContent = !me.signed_in ? "" : me.confirmed ? t.confirmed : t.wait_confirm;
           } };
}

function pledge(env) {
  const { t, send } = env;
  const recusal = h("textarea", { id: "recusal", rows: "2", maxlength: "2000" });
  const state = h("p", { id: "pledge-state" });
  const button = h("button", { type: "submit", id: "pledge", text: t.pledge_button });
  const form = h("form", { class: "stack", onsubmit: (ev) => {
    ev.preventDefault();
    send("eval.pledge", recusal.value.trim() ? { recusal: recusal.value.trim() } : {});
  } }, h("blockquote", { class: "pledge", text: t.pledge_text }),
  h("p", {}, h("label", { for: "recusal", text: t.recusal_label }), recusal), button);
  return { el: h("div", {}, form, state),
           refresh(S, me) { state.textContent = me.pledged ? (me.recused ? t.recused : t.pledged) : ""; } };
}

function election(env, S) {
  const { t, send } = env;
  const codes = Object.keys(S.members).sort();
  // A person's name is data (translate="no"), beside the member's code.
  const radios = codes.map((c) => h("label", { class: "choice" },
    h("input", { type: "radio", name: "chair-candidate", value: c }), ` ${c}`,
    S.members[c]?.name ? h("span", { translate: "no", text: ` ${S.members[c].name}` }) : null));
  const state = h("p", { id: "vote-state" });
  const form = h("form", { onsubmit: (ev) => {
    ev.preventDefault();
    const chosen = form.querySelector("input[name=chair-candidate]:checked");
    if (chosen) send("eval.vote_chair", { candidate: chosen.value });
  } }, h("fieldset", {}, h("legend", { text: t.chair_vote_legend }), radios),
  h("button", { type: "submit", id: "vote-chair", text: t.vote }));
  return { el: h("div", {}, form, state),
           refresh(S2, me, code) {
             const mine = S2.chair_vote?.[code];
             state.textContent = S2.session.chair ? `${t.chair}${COLON}${memberLabel(S2, S2.session.chair)}`
               : mine ? fmt(t.my_vote, { code: mine }) : "";
             form.hidden = Boolean(mine || S2.session.chair);
           } };
}

function compliance(env, S) {
  const { t, ctx, send } = env;
  const bidders = Object.keys(S.bidders).sort();
  const rows = [];
  const blocks = bidders.map((b) => {
    const fields = ctx.criteria.map((crit, i) => {
      const name = `cv-${b}-${i}`;
      const reason = h("input", { id: `${name}-reason`, size: "28", maxlength: "2000", "aria-label": `${b} ${crit} ${t.reason}` });
      const pass = h("input", { type: "radio", name, value: "pass", id: `${name}-pass` });
      const fail = h("input", { type: "radio", name, value: "fail", id: `${name}-fail` });
      rows.push({ b, crit, pass, fail, reason });
      return h("tr", {}, h("th", { scope: "row", text: crit }),
        h("td", {}, h("label", {}, pass, ` ${t.pass}`), " ", h("label", {}, fail, ` ${t.fail}`)),
        h("td", {}, reason));
    });
    const mark = h("span", { class: "badge", "data-bidder": b });
    const form = h("form", { class: "compliance", "data-bidder": b, onsubmit: async (ev) => {
      ev.preventDefault();
      const mine = rows.filter((r) => r.b === b);
      for (const r of mine) {
        if (!r.pass.checked && !r.fail.checked) { env.status(t.choose_all); r.pass.focus(); return; }
        if (r.fail.checked && !r.reason.value.trim()) { env.status(t.reason_needed); r.reason.focus(); return; }
      }
      for (const r of mine) {
        const ok = await send("eval.vote_compliance", { bidder: b, criterion: r.crit, passed: r.pass.checked,
                                                       reason: r.reason.value.trim() });
        if (!ok) return;
      }
    } }, h("table", { class: "grid compact" }, h("caption", {}, `${t.bidder} ${b} `, mark), h("tbody", {}, fields)),
    h("button", { type: "submit", text: fmt(t.submit_votes, { bidder: b }) }));
    return form;
  });
  return { el: h("div", {}, blocks),
           refresh(S2, me, code) {
             const votes = S2.votes?.[code] || {};
             for (const b of bidders) {
               const done = ctx.criteria.every((c) => votes[b]?.[c]);
               const mark = blocks.find((f) => f.dataset.bidder === b).querySelector(".badge");
               mark.textContent = done ? t.your_votes_in : "";
             }
             for (const r of rows) {  // fill from the record only where the expert has not chosen yet
               const v = votes[r.b]?.[r.crit];
               if (v && !r.pass.checked && !r.fail.checked) {
                 (v.passed ? r.pass : r.fail).checked = true;
                 r.reason.value = v.reason || "";
               }
             }
           } };
}

function scoring(env, S) {
  const { t, ctx, send } = env;
  const bidders = validBidders(S);
  const forms = bidders.map((b) => {
    const inputs = {};
    const rows = ctx.items.map((item) => {
      const id = `s-${b}-${item.id}`;
      const err = h("span", { id: `${id}-err`, class: "field-error" });
      const input = h("input", { id, name: item.id, inputmode: "decimal", size: "6", autocomplete: "off",
                                 "aria-describedby": `${id}-err`, "data-max": item.max, "data-step": item.step });
      inputs[item.id] = { input, err, item };
      return h("tr", {}, h("th", { scope: "row" }, h("label", { for: id, text: item.id })),
        h("td", { text: `${t[item.category] || item.category} · ${t[item.kind] || item.kind}` }),
        h("td", { class: "num", text: item.max }), h("td", { class: "num", text: item.step }),
        h("td", {}, input, " ", err));
    });
    const total = h("output", { id: `s-${b}-total`, class: "mono" });
    const mark = h("span", { class: "badge" });
    const check = (show) => {
      let bad = 0;
      for (const { input, err, item } of Object.values(inputs)) {
        const p = scoreProblem(input.value, item.max, item.step);
        const visible = p && (show || (p !== "missing" && input.value !== ""));
        err.textContent = visible ? fmt(t.score_errors[p], { max: item.max, step: item.step }) : "";
        input.setAttribute("aria-invalid", visible ? "true" : "false");
        if (p) bad += 1;
      }
      // A total only of valid cells: with any cell invalid or missing, no number that could be misread.
      total.textContent = bad === 0 ? sumDecimals(Object.values(inputs).map((x) => x.input.value)) : "—";
      total.dataset.complete = bad === 0 ? "1" : "0";
      return bad === 0;
    };
    const form = h("form", { class: "sheet", "data-bidder": b, oninput: () => check(false), onsubmit: (ev) => {
      ev.preventDefault();
      if (!check(true)) { env.status(t.fix_errors); form.querySelector("[aria-invalid=true]")?.focus(); return; }
      const raw = Object.fromEntries(Object.entries(inputs).map(([k, x]) => [k, x.input.value]));
      send("eval.score", { bidder: b, values: checkSheet(ctx.items, raw).values });
    } },
    h("table", { class: "grid compact" },
      h("caption", {}, `${t.bidder} ${b} `, mark),
      h("thead", {}, h("tr", {}, [t.item, "", t.max, t.step, ""].map((x) => h("th", { scope: "col", text: x })))),
      h("tbody", {}, rows),
      h("tfoot", {}, h("tr", {}, h("th", { scope: "row", text: t.total }), h("td", { colspan: "4" }, total)))),
    h("button", { type: "submit", text: fmt(t.save_scores, { bidder: b }) }));
    form._inputs = inputs;
    form._check = check;
    return form;
  });
  return { el: h("div", { class: "sheets" }, forms),
           refresh(S2, me, code) {
             const sheets = S2.sheets?.[code] || {};
             for (const form of forms) {
               const saved = sheets[form.dataset.bidder];
               form.querySelector("caption .badge").textContent = saved ? t.scored : t.not_scored;
               form.querySelector("caption .badge").dataset.saved = saved ? "1" : "0";
               if (saved) {
                 for (const [k, x] of Object.entries(form._inputs)) if (x.input.value === "") x.input.value = saved.values[k] ?? "";
                 form._check(false);
               }
             }
           } };
}

function summaryTask(env) {
  const { t, ctx, send } = env;
  const box = h("div", { id: "returned-box" });
  let shown = "";
  return { el: h("div", {}, h("p", { text: t.summary_help }), box),
           refresh(S, me, code) {
             const mine = Object.entries(S.returned || {}).filter(([k]) => k.startsWith(`${code}:`));
             const key = JSON.stringify(mine);
             if (key === shown) return;
             shown = key;
             box.replaceChildren(...mine.map(([k, ret]) => {
               const b = k.split(":")[1];
               const item = ctx.items.find((i) => i.id === ret.item);
               const id = `corr-${b}`;
               const input = h("input", { id, inputmode: "decimal", size: "6", required: true });
               const err = h("span", { class: "field-error", id: `${id}-err` });
               input.setAttribute("aria-describedby", `${id}-err`);
               const reason = t.return_reasons[ret.reason] || ret.reason;
               return h("form", { class: "returned warn", "data-bidder": b, onsubmit: (ev) => {
                 ev.preventDefault();
                 if (item) {
                   const p = scoreProblem(input.value, item.max, item.step);
                   if (p) { err.textContent = fmt(t.score_errors[p], item); input.focus(); return; }
                   send("eval.correct", { bidder: b, item: item.id, value: input.value.trim() });
                 } else {
                   send("eval.correct", { bidder: b, total: input.value.trim() });
                 }
               } }, h("p", { text: fmt(t.returned_to_you, { bidder: b, item: ret.item || t.whole_sheet, reason }) }),
               h("label", { for: id, text: `${t.new_value} (${ret.item || t.whole_sheet})` }), " ", input, " ", err, " ",
               h("button", { type: "submit", text: t.correct }));
             }));
           } };
}

const note = (text) => () => ({ el: h("p", { text }), refresh() {} });

/** Render the expert's task for the current state into ``el`` (rebuilding only on a new key). */
export function renderTask(el, env, S) {
  const code = env.ctx.member;
  const me = S.members[code] || {};
  const step = S.session.step;
  const key = step === "compliance" ? `compliance:${Object.keys(S.bidders).sort()}`
    : step === "scoring" ? `scoring:${validBidders(S)}` : step;
  if (el.dataset.key !== key) {
    const build = { sign_in: signIn, pledge, chair_election: election, compliance, scoring, summary: summaryTask,
                    ranking: note(env.t.ranking_help), signing: note(env.t.signing_help),
                    done: note(env.t.done_help) }[step] || note("");
    el._task = build(env, S);
    el.replaceChildren(el._task.el);
    el.dataset.key = key;
  }
  el._task.refresh(S, me, code);
}
