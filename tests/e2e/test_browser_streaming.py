"""Streaming in the browser: an upload resumes at any offset (also after a reload, from the state
kept in IndexedDB), and a 64 MiB bid streams through seal and open with bounded memory.
"""

from __future__ import annotations

import io
import os

import pytest

from crypto import keys
from crypto.envelope import open_bytes, read_header, unwrap_file_key
from tests.e2e.conftest import open_crypto_page, ready_crypto_page
from tests.e2e.interop import BINDING, JS_IDS, b64, pkcs8, public, unb64
from tests.e2e.memory import PeakSampler

pytestmark = pytest.mark.e2e

BIDDER = keys.generate_bidder_key()


# --- resumable output -------------------------------------------------------------------------------------

EVERY_OFFSET = """async ({plaintext, pk, ids}) => {
  const sealer = await kb.envelope.seal(t.bytes(plaintext), {
    ...ids, chunkSize: 64, recipients: [{role: "bidder", publicKey: t.bytes(pk)}]});
  const collect = async (offset) => {
    const parts = [];
    for await (const piece of sealer.pieces({offset})) parts.push(piece);
    return kb.b64.concat(...parts);
  };
  const whole = await collect(0);
  const streamed = new Uint8Array(await new Response(sealer.stream()).arrayBuffer());
  const mismatched = [];
  for (let offset = 0; offset <= whole.length; offset++) {
    if (t.b64(await collect(offset)) !== t.b64(whole.subarray(offset))) mismatched.push(offset);
  }
  return {envelope: t.b64(whole), streamed: t.b64(streamed) === t.b64(whole), mismatched};
}"""


def test_the_envelope_can_be_produced_from_any_offset(crypto_page):
    """An upload resumes where the server stopped: the bytes from any offset are the same bytes."""
    plaintext = os.urandom(64 * 4 + 9)
    result = crypto_page.evaluate(EVERY_OFFSET, {"plaintext": b64(plaintext), "pk": public(BIDDER), "ids": JS_IDS})
    assert result["mismatched"] == [] and result["streamed"] is True
    data = unb64(result["envelope"])
    assert open_bytes(data, file_key=unwrap_file_key(read_header(io.BytesIO(data)), BIDDER)) == plaintext


def test_an_upload_resumes_after_a_reload_from_the_state_kept_in_indexeddb(page, platform_server):
    """Half the envelope is 'uploaded', the page reloads, the sealer comes back from IndexedDB with
    its non-extractable payload key, and the rest joins the first half into one valid envelope."""
    plaintext = os.urandom(64 * 7 + 3)
    open_crypto_page(page, platform_server)
    first = page.evaluate("""async ({plaintext, pk, ids}) => {
      const file = new File([t.bytes(plaintext)], "bid.zip", {lastModified: 1767225600000});
      const sealer = await kb.envelope.seal(file, {
        ...ids, chunkSize: 64, recipients: [{role: "bidder", publicKey: t.bytes(pk)}]});
      const state = sealer.state();
      const db = await new Promise((ok, no) => {
        const r = indexedDB.open("e2e-uploads", 1);
        r.onupgradeneeded = () => r.result.createObjectStore("uploads");
        r.onsuccess = () => ok(r.result); r.onerror = () => no(r.error);
      });
      await new Promise((ok, no) => {
        const tx = db.transaction("uploads", "readwrite");
        tx.objectStore("uploads").put({state, file}, "bid");
        tx.oncomplete = ok; tx.onerror = () => no(tx.error);
      });
      db.close();
      const parts = [];
      for await (const piece of sealer.pieces()) parts.push(piece);
      const whole = kb.b64.concat(...parts);
      const sent = sealer.headerSize + 3 * 80 + 17;  // cut inside the fourth chunk
      return {sent: t.b64(whole.subarray(0, sent)), offset: sent, extractable: state.payloadKey.extractable};
    }""", {"plaintext": b64(plaintext), "pk": public(BIDDER), "ids": JS_IDS})
    assert first["extractable"] is False
    page.reload()
    ready_crypto_page(page)
    rest = page.evaluate("""async ({offset}) => {
      const db = await new Promise((ok, no) => {
        const r = indexedDB.open("e2e-uploads", 1); r.onsuccess = () => ok(r.result); r.onerror = () => no(r.error);
      });
      const saved = await new Promise((ok, no) => {
        const r = db.transaction("uploads").objectStore("uploads").get("bid");
        r.onsuccess = () => ok(r.result); r.onerror = () => no(r.error);
      });
      const sealer = await kb.envelope.Sealer.resume(saved.state, saved.file);
      const wrongFile = await t.error(() => kb.envelope.Sealer.resume(saved.state, new File(["x"], "other.zip")));
      const parts = [];
      for await (const piece of sealer.pieces({offset})) parts.push(piece);
      return {rest: t.b64(kb.b64.concat(...parts)), wrongFile};
    }""", {"offset": first["offset"]})
    assert rest["wrongFile"] == "RangeError"
    data = unb64(first["sent"]) + unb64(rest["rest"])
    file_key = unwrap_file_key(read_header(io.BytesIO(data)), BIDDER)
    assert open_bytes(data, file_key=file_key, expected=BINDING) == plaintext
    assert page.js_errors == []


# --- a large bid ----------------------------------------------------------------------------------------------

LARGE = """async ({pkcs8, pk, ids, size}) => {
  const chunkSize = 1 << 20;
  // A Blob-like source that makes its bytes on demand and records how far ahead of the
  // consumer the sealer reads: the file never exists in memory as a whole.
  const pattern = (i) => (i * 131 + (i >> 20)) & 0xff;
  let readUpTo = 0;
  const source = {
    size,
    slice(start, end) {
      readUpTo = Math.max(readUpTo, end);
      return {async arrayBuffer() {
        const out = new Uint8Array(end - start);
        for (let i = 0; i < out.length; i++) out[i] = pattern(start + i);
        return out.buffer;
      }};
    },
  };
  const key = await t.key(pkcs8);
  const started = performance.now();
  const sealer = await kb.envelope.seal(source, {...ids, chunkSize, recipients: [{role: "bidder", publicKey: t.bytes(pk)}]});
  const fileKey = await kb.envelope.unwrapFileKey(sealer.header, {privateKey: key.privateKey, publicKey: t.bytes(pk)});
  let sealedBytes = 0, handedOut = 0, maxAhead = 0, checked = 0, bad = 0;
  const heap = [];
  async function* counted() {
    let first = true;
    for await (const piece of sealer.pieces()) {
      sealedBytes += piece.length;
      if (!first) handedOut += piece.length - 16;  // plaintext bytes sealed into this piece
      first = false;
      maxAhead = Math.max(maxAhead, readUpTo - handedOut);
      yield piece;
    }
  }
  for await (const chunk of kb.envelope.openEnvelope(counted(), {fileKey, expected: ids})) {
    for (let i = 0; i < chunk.length; i += 4099) if (chunk[i] !== pattern(checked + i)) bad++;
    checked += chunk.length;
    if (window.gc) {
      window.gc();
      if (performance.memory) heap.push(performance.memory.usedJSHeapSize);
    }
  }
  return {seconds: (performance.now() - started) / 1000, sealedBytes, envelopeSize: sealer.envelopeSize,
          headerSize: sealer.headerSize,
          checked, bad, maxAhead, heap};
}"""


def test_a_64_mib_bid_streams_through_seal_and_open_with_bounded_memory(page, platform_server):
    size = int(os.environ.get("E2E_LARGE_MIB", "64")) * 2**20
    open_crypto_page(page, platform_server)
    page.evaluate("() => window.gc && window.gc()")
    with PeakSampler() as sampler:
        result = page.evaluate(LARGE, {"pkcs8": pkcs8(BIDDER), "pk": public(BIDDER), "ids": JS_IDS,
                                       "size": size})
    growth = sampler.growth
    print(f"\n{size >> 20} MiB seal+open in Chromium: {result['seconds']:.2f} s; renderer RSS peak "
          f"+{growth / 2**20:.0f} MiB; JS heap after GC "
          f"{min(result['heap'], default=0) / 2**20:.1f}-{max(result['heap'], default=0) / 2**20:.1f} MiB")
    assert result["checked"] == size and result["bad"] == 0
    assert result["sealedBytes"] == result["envelopeSize"] == result["headerSize"] + size + size // 2**20 * 16
    # The sealer reads at most the chunk it is encrypting beyond what it has handed out.
    assert result["maxAhead"] == 0
    if result["heap"]:
        assert max(result["heap"]) - min(result["heap"]) < 16 * 2**20
    if sampler.baseline:  # Linux: no renderer ever held the bid (nor its envelope) as a whole
        assert growth < size
