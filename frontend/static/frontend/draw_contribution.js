// A party's contribution to an expert draw, made and kept in this browser (docs/draw.md):
// a 32-byte random value (crypto.getRandomValues) stays in localStorage under the form's key; only
// its commitment SHA-256("kaibiao/draw-commit/v1" 0x00 || draw id || 0x00 || party || 0x00 || value)
// is filled into the commit form, and the value into the reveal form after the snapshot.

import { hex } from "./util.js";

const LABEL = new TextEncoder().encode("kaibiao/draw-commit/v1\u0000");

function fromHex(text) {
  return Uint8Array.from(text.match(/../g), (h) => parseInt(h, 16));
}

export async function commitment(drawId, party, value) {
  const tail = new TextEncoder().encode(`${drawId}\u0000${party}\u0000`);
  const message = new Uint8Array(LABEL.length + tail.length + value.length);
  message.set(LABEL, 0);
  message.set(tail, LABEL.length);
  message.set(value, LABEL.length + tail.length);
  return hex(new Uint8Array(await crypto.subtle.digest("SHA-256", message)));
}

function storedValue(key) {
  let text = localStorage.getItem(key);
  if (!text || !/^[0-9a-f]{64}$/.test(text)) {
    text = hex(crypto.getRandomValues(new Uint8Array(32)));
    localStorage.setItem(key, text);
  }
  return text;
}

async function prepareCommit(form) {
  const value = storedValue(form.dataset.storageKey);
  form.querySelector(".draw-value").textContent = value;
  form.elements.commitment.value = await commitment(form.dataset.draw, form.dataset.party, fromHex(value));
}

function prepareReveal(form) {
  const value = localStorage.getItem(form.dataset.storageKey);
  if (value && !form.elements.value.value) form.elements.value.value = value;
}

for (const form of document.querySelectorAll("form.draw-commit")) prepareCommit(form);
for (const form of document.querySelectorAll("form.draw-reveal")) prepareReveal(form);
