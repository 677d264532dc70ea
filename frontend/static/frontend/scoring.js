// Score validation and sums, exactly: decimal strings become scaled BigInts (value × 10^scale), so
// "0.1 + 0.2" is 0.3 and "12.5 is a multiple of 0.5" is an integer remainder test, never a float.
// The same rule as evaluation.rules.aggregate.Item.problem: 0 ≤ value ≤ max, a whole multiple of step.

const DECIMAL = /^(\d+)(?:\.(\d+))?$/;

/** "12.50" → {int: 1250n, scale: 2}; null when it is not a plain non-negative decimal. */
export function parseDecimal(text) {
  const s = String(text ?? "").trim().replace(/^(\d*)\.$/, "$1");
  const m = DECIMAL.exec(s.startsWith(".") ? `0${s}` : s);
  if (!m) return null;
  const frac = m[2] || "";
  return { int: BigInt(m[1] + frac), scale: frac.length };
}

function at(d, scale) { return d.int * 10n ** BigInt(scale - d.scale); }

/** null when valid, else "missing" | "not_a_number" | "out_of_range" | "not_a_step". */
export function scoreProblem(text, max, step) {
  if (String(text ?? "").trim() === "") return "missing";
  const v = parseDecimal(text);
  if (!v) return "not_a_number";
  const mx = parseDecimal(max), st = parseDecimal(step);
  const scale = Math.max(v.scale, mx.scale, st.scale);
  const value = at(v, scale);
  if (value < 0n || value > at(mx, scale)) return "out_of_range";
  const stepInt = at(st, scale);
  if (stepInt > 0n && value % stepInt !== 0n) return "not_a_step";
  return null;
}

/** The canonical text of a decimal ("12.50" → "12.5", "007" → "7"). */
export function formatDecimal(d) {
  const neg = d.int < 0n;
  const digits = (neg ? -d.int : d.int).toString().padStart(d.scale + 1, "0");
  let int = d.scale ? digits.slice(0, -d.scale) : digits;
  let frac = d.scale ? digits.slice(-d.scale) : "";
  frac = frac.replace(/0+$/, "");
  int = int.replace(/^0+(?=\d)/, "");
  return `${neg ? "-" : ""}${int}${frac ? `.${frac}` : ""}`;
}

/** Exact sum of decimal strings (invalid entries are skipped); returns the canonical text. */
export function sumDecimals(texts) {
  const parsed = texts.map(parseDecimal).filter(Boolean);
  const scale = Math.max(0, ...parsed.map((d) => d.scale));
  const int = parsed.reduce((acc, d) => acc + at(d, scale), 0n);
  return formatDecimal({ int, scale });
}

/** Validate a whole sheet: {values: {item: text}, problems: [{item, problem}]}. */
export function checkSheet(items, raw) {
  const values = {};
  const problems = [];
  for (const item of items) {
    const text = String(raw[item.id] ?? "").trim();
    const problem = scoreProblem(text, item.max, item.step);
    if (problem) problems.push({ item: item.id, problem });
    else values[item.id] = formatDecimal(parseDecimal(text));
  }
  return { values, problems };
}
