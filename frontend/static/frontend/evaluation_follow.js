// The host's follow panel on the evaluation set-up page, kept current without a reload. The host
// is in no venue room (evaluation/access.py, session_role: "not in the rooms"), so while the page
// is visible it asks for the panel again every few seconds (views_evaluation.evaluation_follow)
// and swaps it in when it changed: the panel is rendered on the server, with the same labels and
// Beijing times as on load. Polling stops once the evaluation is done.

const PERIOD_MS = 3000;
const panel = document.getElementById("follow-panel");
let last = null;
let timer = null;

function done() {
  return document.getElementById("session-step")?.dataset.step === "done";
}

async function refresh() {
  if (document.hidden) return;
  let res;
  try {
    res = await fetch(panel.dataset.follow, { credentials: "same-origin", headers: { Accept: "text/html" } });
  } catch {
    return; // offline for a moment: the next round asks again
  }
  const html = res.ok && !res.redirected ? await res.text() : "";
  if (!html.includes('id="follow-h"')) { // signed out (the login page) or refused: stop, say nothing new
    clearInterval(timer);
    return;
  }
  if (html !== last) {
    last = html;
    const doc = new DOMParser().parseFromString(`<!doctype html><body>${html}`, "text/html");
    panel.replaceChildren(...doc.body.childNodes);
    panel.dataset.refreshed = String(Date.now());
  }
  if (done()) clearInterval(timer);
}

if (panel?.dataset.follow && !done()) {
  timer = setInterval(refresh, PERIOD_MS);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });
}
