// The announced fields (唱标内容) of the tender form as a table a host fills in, over the form's JSON
// field: each row a field (name shown to everyone, type, unit, required, choices); the JSON the
// server validates (bidding.lifecycle.validate_announced_fields) is written back on every change.
// Without this module the JSON field stays as it is, and the server checks it the same way.
import { CHINESE, el, pageData } from "./util.js";

const area = document.getElementById("id_announced_fields");
const holder = document.getElementById("announced-editor");
if (area && holder) {
  const t = pageData("announced-labels");
  let rows;
  try { rows = JSON.parse(area.value || "[]"); } catch { rows = null; }
  if (Array.isArray(rows)) mount(rows);

  function mount(fields) {
    const body = el("tbody");
    const sync = () => {
      const out = [...body.querySelectorAll("tr")].map((tr) => {
        const v = (name) => tr.querySelector(`[data-k=${name}]`);
        const f = { key: v("key").value.trim(), type: v("type").value, label: v("label").value.trim(),
                    required: v("required").checked };
        if (v("unit").value.trim()) f.unit = v("unit").value.trim();
        if (f.type === "choice") f.choices = v("choices").value.split(/[,，、]/).map((c) => c.trim()).filter(Boolean);
        v("choices").disabled = f.type !== "choice";
        return f;
      });
      area.value = JSON.stringify(out, null, 2);
    };
    const row = (f) => {
      const n = body.children.length + 1;
      const input = (k, attrs) => el("input", { "data-k": k, "aria-label": `${t.cols[k]} ${n}`, ...attrs });
      const type = el("select", { "data-k": "type", "aria-label": `${t.cols.type} ${n}` },
        ...Object.entries(t.types).map(([k, label]) => el("option", { value: k, text: label, selected: k === f.type })));
      const tr = el("tr", {},
        el("td", {}, input("label", { value: f.label || "", maxlength: 40, size: 10 })),
        el("td", {}, input("key", { value: f.key || "", maxlength: 40, size: 12, class: "mono", pattern: "[a-z][a-z0-9_]*" })),
        el("td", {}, type),
        el("td", {}, input("unit", { value: f.unit || "", maxlength: 20, size: 6 })),
        el("td", {}, input("required", { type: "checkbox", checked: f.required !== false })),
        el("td", {}, input("choices", { value: (f.choices || []).join(CHINESE ? "，" : ", "), size: 14 })),
        el("td", {}, el("button", { type: "button", class: "secondary", text: t.remove,
                                    onclick: () => { tr.remove(); sync(); } })));
      body.append(tr);
    };
    fields.forEach(row);
    const table = el("table", { class: "grid compact", id: "announced-table" },
      el("caption", { class: "sr-only", text: t.caption }),
      el("thead", {}, el("tr", {}, ...["label", "key", "type", "unit", "required", "choices", ""]
        .map((k) => el("th", { scope: "col", text: k ? t.cols[k] : "" })))), body);
    const add = el("button", { type: "button", class: "secondary", id: "announced-add", text: t.add,
                               onclick: () => { row({ type: "text", required: true }); sync(); } });
    holder.replaceChildren(el("div", { class: "scroll", tabindex: "0" }, table), add,
                           el("p", { class: "meta", text: t.help }));
    body.addEventListener("input", sync);
    body.addEventListener("change", sync);
    area.hidden = true;
    const label = area.closest(".field")?.querySelector("label");
    if (label) {
      label.id = "announced-label";
      label.removeAttribute("for");
      table.setAttribute("aria-labelledby", "announced-label");
    }
    sync();
  }
}
