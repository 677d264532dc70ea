"""The browser reads ``tender-envelope/v2`` (docs/envelope.md, Appendix B): a bidder opens its own
v2 bid, sealed by ``sealbid`` with the file key split among custodians, in Chromium; the share set's
rules are enforced as in Python; a v1 envelope still opens. (The browser writes v3, not v2:
test_browser_envelope_v3.py.)"""

from __future__ import annotations

import io

import pytest

from crypto import envelope, escrow_shares, keys
from tests.e2e.interop import IDS, b64, pkcs8

pytestmark = pytest.mark.e2e

OPEN = """async ({data, bidder, custodian, fileKey}) => {
  const e = kb.envelope, env = t.bytes(data);
  const out = {header: await t.error(() => e.parseHeader(env))};
  if (out.header) return out;
  const header = await e.parseHeader(env);
  out.version = header.version; out.threshold = header.threshold;
  out.shares = header.shares.map((s) => [s.index, s.threshold, s.count, s.keyId]);
  out.unwrapped = t.b64(await e.unwrapFileKey(header, await t.key(bidder), {role: "bidder"}));
  out.custodian = await t.error(async () => e.unwrapFileKey(header, await t.key(custodian)));
  out.plaintext = t.b64(await e.openToBytes(env, {fileKey: t.bytes(fileKey), expected: header.binding}));
  return out;
}"""


def _v2(plaintext=b"price 42 fen", k=2, n=3):
    bidder = keys.generate_bidder_key()
    custodians = [keys.generate_bidder_key() for _ in range(n)]
    env = envelope.seal_bytes(plaintext, **IDS, chunk_size=64,
                              recipients=[envelope.Recipient("bidder", bidder.public_key())],
                              custodians=[escrow_shares.Custodian(i + 1, c.public_key())
                                          for i, c in enumerate(custodians)], threshold=k,
                              version=envelope.FORMAT_V2)
    return env, bidder, custodians


def test_a_bidder_opens_its_v2_bid_in_the_browser(crypto_page):
    env, bidder, custodians = _v2(b"x" * 300)
    header = envelope.read_header(io.BytesIO(env))
    file_key = envelope.unwrap_file_key(header, bidder)
    result = crypto_page.evaluate(OPEN, {"data": b64(env), "bidder": pkcs8(bidder),
                                         "custodian": pkcs8(custodians[0]), "fileKey": b64(file_key)})
    assert result["header"] is None and result["version"] == "tender-envelope/v2"
    assert result["threshold"] == 2
    assert result["shares"] == [[s.index, s.threshold, s.count, s.key_id] for s in header.shares]
    assert result["unwrapped"] == b64(file_key)
    assert result["custodian"] == "InvalidEnvelope"  # a custodian's key is no recipient of the file key
    assert result["plaintext"] == b64(b"x" * 300)


@pytest.mark.parametrize("mutate", [
    lambda h: h.replace(b"-> hpke-p256-share 2 2 3", b"-> hpke-p256-share 2 2 4"),
    lambda h: h.replace(b"-> hpke-p256-share 2 2 3", b"-> hpke-p256-share 2 3 3"),
    lambda h: h.replace(b"-> hpke-p256-share 1 2 3", b"-> hpke-p256-share 3 2 3"),
    lambda h: h.replace(b"-> hpke-p256-share 1 2 3", b"-> hpke-p256-share 01 2 3"),
    lambda h: h.replace(b"tender-envelope/v2", b"tender-envelope/v1"),
    lambda h: h.replace(b"-> hpke-p256 bidder", b"-> hpke-p256 escrow"),
], ids=["count", "threshold", "index-twice", "leading-zero", "share-in-v1", "escrow-in-v2"])
def test_the_browser_refuses_a_malformed_share_set_as_python_does(crypto_page, mutate):
    env, _, _ = _v2()
    bad = mutate(env)
    with pytest.raises(envelope.InvalidEnvelope):
        envelope.read_header(io.BytesIO(bad))
    result = crypto_page.evaluate("async ({data}) => ({header: await t.error(() => kb.envelope.parseHeader(t.bytes(data)))})",
                                  {"data": b64(bad)})
    assert result == {"header": "InvalidEnvelope"}


def test_v1_still_opens_and_the_browser_still_seals_v1(crypto_page):
    """The v2 reader changed the browser's parser and derivations: v1 reads and writes as before."""
    import json
    from pathlib import Path

    vectors = Path(__file__).resolve().parents[1] / "crypto" / "vectors" / "envelope-v1"
    index = json.loads((vectors / "index.json").read_text(encoding="utf-8"))
    bidder_scalar = index["keys"]["bidder"]["scalar"]
    for vector in (v for v in index["vectors"] if v["expect"] == "ok"):
        data = (vectors / vector["file"]).read_bytes()
        result = crypto_page.evaluate("""async ({data, key}) => {
          const e = kb.envelope, env = t.bytes(data), header = await e.parseHeader(env);
          const fk = await e.unwrapFileKey(header, await t.key(key), {role: "bidder"});
          return {version: header.version, plaintext: t.b64(await e.openToBytes(env, {fileKey: fk}))};
        }""", {"data": b64(data), "key": pkcs8(keys.private_key_from_scalar(bytes.fromhex(bidder_scalar)))})
        assert result == {"version": "tender-envelope/v1",
                          "plaintext": b64(bytes.fromhex(vector["plaintext"]))}, vector["name"]
    bidder = keys.generate_bidder_key()
    sealed = crypto_page.evaluate("""async ({ids, point}) => t.b64(await kb.envelope.sealToBytes(
        t.bytes("cHJpY2UgNyBmZW4"), {...ids, chunkSize: 64, recipients: [{role: "bidder", publicKey: t.bytes(point)}]}))""",
                                  {"ids": {"tenderId": IDS["tender_id"], "lotId": IDS["lot_id"],
                                           "bidderId": IDS["bidder_id"]},
                                   "point": b64(keys.public_key_to_bytes(bidder.public_key()))})
    env = keys.b64decode(sealed)
    header = envelope.read_header(io.BytesIO(env))
    assert header.version == "tender-envelope/v1"
    assert envelope.open_bytes(env, file_key=envelope.unwrap_file_key(header, bidder)) == b"price 7 fen"
