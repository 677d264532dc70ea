// What keeps a bidder from losing a bid by mistake on the submit page: documents that are empty or
// cannot be read are refused before anything is sealed; replacing a submitted bid is confirmed in a
// dialog showing what would be replaced (documents, size, Beijing time, hash); the form closes at the
// deadline (the server's clock), saying why. The pipeline itself stays in submit_page.js.
import { beijing, list, paren, say } from "./util.js";
import { FieldError } from "./bidpackage.js";

const SENT = (lotId) => `kaibiao-submitted-${lotId}`;

/** Refuse 0-byte and unreadable documents, naming the file. */
export async function checkFiles(files) {
  for (const file of files) {
    if (file.size === 0) throw Object.assign(new FieldError("files", "empty"), { file: file.name });
    try {
      await file.slice(0, 1).arrayBuffer();
    } catch {
      throw Object.assign(new FieldError("files", "unreadable"), { file: file.name });
    }
  }
}

/** The documents this browser sealed into the lot's current bid (the platform cannot know them). */
export function rememberSubmitted(lotId, submission, names) {
  try {
    localStorage.setItem(SENT(lotId), JSON.stringify({ id: submission.id, sha256: submission.sha256, names }));
  } catch { /* private mode: the dialog then says the names are not known here */ }
}

function submittedHere(lotId, bid) {
  try {
    const rec = JSON.parse(localStorage.getItem(SENT(lotId)) || "null");
    return rec && rec.sha256 === bid.sha256 ? rec.names : null;
  } catch {
    return null;
  }
}

function facts(t, lotId, bid) {
  const names = submittedHere(lotId, bid);
  return [
    [t.current.documents, names ? list(names) : t.current.names_unknown],
    [t.current.size, `${Number(bid.size).toLocaleString()} ${t.bytes}`],
    [t.current.received_at, `${beijing(bid.received_at)}${paren(t.beijing)}`],
    ["SHA-256", bid.sha256],
  ];
}

function fill(dl, rows) {
  dl.replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = v;
    if (k === "SHA-256") dd.className = "mono";
    return [dt, dd];
  }));
}

/** The "current bid" panel: status label, Beijing time, size, hash, and the documents if sealed here. */
export function showCurrent(t, lotId, bid) {
  const panel = document.getElementById("current");
  document.getElementById("current-status").textContent = t.submission_status[bid.status] || bid.status;
  fill(document.getElementById("current-facts"), facts(t, lotId, bid));
  panel.hidden = false;
}

/** Ask before replacing the current bid; resolves true only on an explicit "replace". */
export function confirmReplace(t, lotId, bid) {
  const dialog = document.getElementById("replace-dialog");
  fill(document.getElementById("replace-facts"), facts(t, lotId, bid));
  return new Promise((resolve) => {
    const done = (answer) => () => { dialog.close(); resolve(answer); };
    document.getElementById("replace-yes").onclick = done(true);
    document.getElementById("replace-no").onclick = done(false);
    dialog.oncancel = () => resolve(false);
    dialog.showModal();
    document.getElementById("replace-no").focus();
  });
}

/** Disable the form, with the reason, when bids are closed now or when the deadline comes. */
export function closeAtDeadline(t, ctx, form) {
  const reason = document.getElementById("closed-reason");
  const close = (text) => {
    for (const c of form.elements) c.disabled = true;
    say(reason, text, "closed");
    reason.hidden = false;
    form.dataset.closed = "1";
  };
  if (ctx.closed_reason) return close(ctx.closed_reason);
  // The server's clock: the offset measured when the page was rendered.
  const offset = Date.parse(ctx.server_now) - Date.now();
  const left = Date.parse(ctx.lot.bid_deadline) - (Date.now() + offset);
  if (left <= 0) return close(t.deadline_passed);
  if (left < 2 ** 31) setTimeout(() => close(t.deadline_passed), left);
}
