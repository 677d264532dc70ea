// Shared helpers of the bidder and host pages: the page's context and labels (json_script blocks
// rendered by the view), JSON API calls with the session's CSRF token, exact money formatting
// (integer fen ↔ 元 with string arithmetic, never floats), Beijing time, downloads.

export function pageData(id) {
  return JSON.parse(document.getElementById(id).textContent);
}

export class ApiError extends Error {
  constructor(status, body) {
    const err = body?.error || body || {};
    super(err.message || body?.detail || `HTTP ${status}`);
    this.status = status;
    this.code = err.code || `http_${status}`;
    this.details = err.details;
  }
}

function csrfToken() {
  const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : (window.KB_CSRF || "");
}

/** fetch under /api/v1 with the session cookie; JSON in and out; throws ApiError. */
export async function api(method, path, { json, body, headers = {}, raw = false } = {}) {
  const init = { method, credentials: "same-origin", headers: { ...headers } };
  if (method !== "GET" && method !== "HEAD") init.headers["X-CSRFToken"] = csrfToken();
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (body !== undefined) {
    init.body = body;
  }
  const res = await fetch(`/api/v1${path}`, init);
  if (raw && res.ok) return res;
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { detail: text.slice(0, 200) }; }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

// --- money: 元 text → integer fen, and back, exactly -------------------------------------------

/**
 * "1,234,567.8" → "123456780" (fen, as a decimal string of an integer). Refuses signs, exponents,
 * more than two decimals and anything that is not digits: the same rule as sealbid's yuan_to_fen.
 */
export function yuanToFen(text) {
  const s = String(text).trim().replace(/[,，\s]/g, "");
  const m = /^(\d*)(?:\.(\d{0,2}))?$/.exec(s);
  if (!m || (m[1] === "" && !m[2])) return null;
  const fen = (m[1] + (m[2] || "").padEnd(2, "0")).replace(/^0+(?=\d)/, "");
  return fen;
}

/** Group an integer decimal string by thousands. */
function group(digits) {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** 123456789 (fen, integer or decimal string) → "1,234,567.89" (元, two decimals). */
export function fenToYuan(fen, { grouping = true } = {}) {
  const s = typeof fen === "bigint" ? fen.toString() : String(fen);
  if (!/^\d+$/.test(s)) return String(fen);
  const padded = s.padStart(3, "0");
  const int = padded.slice(0, -2).replace(/^0+(?=\d)/, "");
  return `${grouping ? group(int) : int}.${padded.slice(-2)}`;
}

// --- time ---------------------------------------------------------------------------------------

const LANG = document.documentElement.lang || "zh-hans";
export const CHINESE = LANG.toLowerCase().startsWith("zh");
const BEIJING = new Intl.DateTimeFormat("en-GB", {
  timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
});

/** Items as a list in the page's language: "E1、E3" (zh) or "E1, E3" (en). */
export function list(items) {
  return [...items].join(CHINESE ? "、" : ", ");
}

/** A note in brackets after what it qualifies: "张敏（南京市）" (zh) or "Zhang Min (Nanjing)" (en). */
export function paren(text) {
  return CHINESE ? `（${text}）` : ` (${text})`;
}

/** The colon between a label and what follows it: "答复：" (zh) or "Answer: " (en). */
export const COLON = CHINESE ? "：" : ": ";

/** Clauses one after the other: "甲；乙" (zh) or "a; b" (en). */
export function clauses(items) {
  return [...items].join(CHINESE ? "；" : "; ");
}

/** Beijing time as people read it here: "2026年12月03日 15:12:00" (zh) or "2026-12-03 15:12:00" (en),
 * the same as the server's common/beijing.py; "—" for nothing. */
export function beijing(value, { seconds = true } = {}) {
  if (!value) return "—";
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) return "—";
  const p = Object.fromEntries(BEIJING.formatToParts(date).map((x) => [x.type, x.value]));
  const time = `${p.hour === "24" ? "00" : p.hour}:${p.minute}${seconds ? `:${p.second}` : ""}`;
  return CHINESE ? `${p.year}年${p.month}月${p.day}日 ${time}` : `${p.year}-${p.month}-${p.day} ${time}`;
}

// --- errors as people read them -------------------------------------------------------------------

let errorLabels = null;

/** "失败：当前阶段不能进行此操作" — the catalogue's label of the error's code (common/labels.py, rendered
 * once by base.html as #kb-errors); the server's message is added when it speaks the page's language.
 * The code itself never reaches the text: callers may put it in a data attribute for support. */
export function failure(t, err) {
  if (errorLabels === null) {
    const node = document.getElementById("kb-errors");
    errorLabels = node ? JSON.parse(node.textContent) : {};
  }
  const code = err?.network ? "network" : err?.code;
  const known = errorLabels[code] || (err?.status >= 500 ? errorLabels.internal_error : "");
  const message = String(err?.message || "");
  const sameLanguage = CHINESE ? /[\u4e00-\u9fff]/.test(message) : !/[\u4e00-\u9fff]/.test(message);
  const extra = message && sameLanguage && !/^HTTP \d+$/.test(message) && message !== code ? message : "";
  const text = [known, extra].filter(Boolean).join(CHINESE ? "：" : ": ") || errorLabels.bad_request || "";
  return `${t?.failed || ""}${t?.failed ? (CHINESE ? "：" : ": ") : ""}${text}`;
}

/** "1:02:03" / "02:03" for a number of milliseconds (never negative). */
export function clock(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
  const two = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${two(m)}:${two(s)}` : `${two(m)}:${two(s)}`;
}

// --- bytes --------------------------------------------------------------------------------------

/** Standard padded base64 (what Python's base64.b64decode(validate=True) takes). */
export function b64padded(bytes) {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

export function unb64padded(text) {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Offer bytes or text to the user as a download. */
export function download(name, data, type = "application/octet-stream") {
  const blob = data instanceof Blob ? data : new Blob([data], { type });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 60000);
}

/** Set an element's text and a data-state for tests and styles. */
export function say(el, text, state = "") {
  el.textContent = text;
  if (state) el.dataset.state = state; else delete el.dataset.state;
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c);
  return node;
}
