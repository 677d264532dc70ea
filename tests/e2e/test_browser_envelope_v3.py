"""The browser writes ``tender-envelope/v3`` (docs/envelope.md, Appendix C): the bidder's page
splits the file key among the tender's custodians with replicated XOR sharing (crypto/escrow.js),
and the custodians' recovery in Python opens what the browser sealed — any k of them, never k - 1,
never a share moved from another envelope. The browser reproduces the checked-in v3 vector byte for
byte, refuses malformed v3 headers as Python does, and a bidder on a tender with custodians seals
and submits from the submit page (no more "use sealbid")."""

from __future__ import annotations

import io
import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from crypto import envelope, escrow_shares, keys
from tests.e2e.interop import IDS, JS_IDS, b64, pkcs8, scalar_pkcs8, unb64

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "crypto" / "vectors" / "envelope-v3"

SEAL = """async ({plaintext, ids, bidder, custodians, threshold}) => t.b64(await kb.envelope.sealToBytes(
  t.bytes(plaintext), {...ids, chunkSize: 64, recipients: [{role: "bidder", publicKey: t.bytes(bidder)}],
                       custodians: custodians.map(([index, key]) => ({index, publicKey: t.bytes(key)})), threshold}))"""


def _point(private_key) -> str:
    return b64(keys.public_key_to_bytes(private_key.public_key()))


def _browser_seal(page, plaintext: bytes, bidder, custodians, k: int, ids=JS_IDS) -> bytes:
    return unb64(page.evaluate(SEAL, {"plaintext": b64(plaintext), "ids": ids, "bidder": _point(bidder),
                                      "custodians": [[i + 1, _point(c)] for i, c in enumerate(custodians)],
                                      "threshold": k}))


@pytest.mark.parametrize("k,n", [(2, 3), (3, 5), (4, 7)])
def test_custodians_recover_in_python_what_the_browser_sealed(crypto_page, k, n):
    bidder = keys.generate_bidder_key()
    custodians = [keys.generate_bidder_key() for _ in range(n)]
    plaintext = "投标报价 98765432 分".encode() * 5
    env = _browser_seal(crypto_page, plaintext, bidder, custodians, k)
    header = envelope.read_header(io.BytesIO(env))
    assert header.version == "tender-envelope/v3" and header.threshold == k
    assert header.share_key_ids() == tuple(keys.key_id(c.public_key()) for c in custodians)
    file_key = envelope.unwrap_file_key(header, bidder, role="bidder")
    shares = [escrow_shares.unwrap_share(header, c) for c in custodians]  # each on its own machine
    for subset in itertools.combinations(shares, k):
        assert escrow_shares.recover_file_key(header, list(subset)) == file_key
    for subset in itertools.combinations(shares, k - 1):
        with pytest.raises(envelope.InvalidEnvelope):
            escrow_shares.recover_file_key(header, list(subset))
    assert envelope.open_bytes(env, file_key=file_key) == plaintext
    # the bidder opens its own v3 bid in the browser, as in the hall; a custodian's key is no recipient
    opened = crypto_page.evaluate("""async ({data, bidder, custodian}) => {
      const e = kb.envelope, env = t.bytes(data), header = await e.parseHeader(env);
      const fileKey = await e.unwrapFileKey(header, await t.key(bidder), {role: "bidder"});
      return {version: header.version, shares: header.shares.map((s) => [s.index, s.threshold, s.count, s.keyId]),
              plaintext: t.b64(await e.openToBytes(env, {fileKey, expected: header.binding})),
              custodian: await t.error(async () => e.unwrapFileKey(header, await t.key(custodian)))};
    }""", {"data": b64(env), "bidder": pkcs8(bidder), "custodian": pkcs8(custodians[0])})
    assert opened == {"version": "tender-envelope/v3", "plaintext": b64(plaintext), "custodian": "InvalidEnvelope",
                      "shares": [[s.index, s.threshold, s.count, s.key_id] for s in header.shares]}
    assert not crypto_page.js_errors


def test_a_share_moved_between_browser_sealed_envelopes_does_not_open(crypto_page):
    custodians = [keys.generate_bidder_key() for _ in range(3)]
    env_a = _browser_seal(crypto_page, b"alice", keys.generate_bidder_key(), custodians, 2)
    env_b = _browser_seal(crypto_page, b"bob", keys.generate_bidder_key(), custodians, 2,
                          ids={**JS_IDS, "bidderId": "91320100MA1ABCDE1Y"})
    head_a, head_b = (envelope.read_header(io.BytesIO(e)) for e in (env_a, env_b))
    lines_a, lines_b = head_a.raw.split(b"\n"), head_b.raw.split(b"\n")
    start = lambda lines: next(i for i, x in enumerate(lines) if x.startswith(b"-> hpke-p256-rss 1 "))  # noqa: E731
    end = lambda lines, s: next(i for i in range(s + 1, len(lines)) if lines[i].startswith((b"-> ", b"--- ")))  # noqa: E731
    sa, sb = start(lines_a), start(lines_b)
    lines_b[sb:end(lines_b, sb)] = lines_a[sa:end(lines_a, sa)]
    moved = envelope.read_header(io.BytesIO(b"\n".join(lines_b)))  # structurally fine
    with pytest.raises(envelope.InvalidEnvelope):
        escrow_shares.unwrap_share(moved, custodians[0])
    share_a = escrow_shares.unwrap_share(head_a, custodians[0])
    share_b = escrow_shares.unwrap_share(head_b, custodians[1])
    with pytest.raises(envelope.InvalidEnvelope):
        escrow_shares.recover_file_key(head_b, [share_a, share_b])


def test_the_browser_reproduces_the_v3_vector_byte_for_byte(crypto_page):
    index = json.loads((VECTORS / "index.json").read_text(encoding="utf-8"))
    result = crypto_page.evaluate("""async ({v, ephemerals, custodians}) => {
      const pairs = [];
      for (const pkcs8 of ephemerals) pairs.push(await t.key(pkcs8));
      const draws = v.random_parts.map((h) => kb.b64.fromHex(h));
      const sealer = await kb.envelope._internals.sealWith(
        kb.b64.fromHex(v.plaintext), {tenderId: v.tender, lotId: v.lot, bidderId: v.bidder, chunkSize: v.chunk_size,
          recipients: [{role: "bidder", publicKey: kb.b64.fromHex(v.keys.bidder.public_key)}],
          custodians: custodians.map((key, i) => ({index: i + 1, publicKey: kb.b64.fromHex(key)})),
          threshold: v.threshold},
        kb.b64.fromHex(v.file_key), kb.b64.fromHex(v.nonce), pairs, () => draws.shift());
      const split = kb.escrow.split(kb.b64.fromHex(v.file_key), v.threshold, v.count,
                                    (() => { const d = v.random_parts.map((h) => kb.b64.fromHex(h)); return () => d.shift(); })());
      return {env: t.b64(new Uint8Array(await (await sealer.toBlob()).arrayBuffer())), left: draws.length,
              shares: split.map((s) => kb.b64.toHex(s))};
    }""", {"v": index, "ephemerals": [scalar_pkcs8(s) for s in index["ephemeral_scalars"]],
           "custodians": [index["keys"][f"custodian{i}"]["public_key"] for i in range(1, index["count"] + 1)]})
    assert result["left"] == 0
    assert result["shares"] == [s["share"] for s in index["shares"]]
    assert unb64(result["env"]) == (VECTORS / index["file"]).read_bytes()


@pytest.mark.parametrize("mutate", [
    lambda h: h.replace(b"tender-envelope/v3", b"tender-envelope/v2"),
    lambda h: h.replace(b"-> hpke-p256-rss", b"-> hpke-p256-share"),
    lambda h: h.replace(b"-> hpke-p256-rss 2 2 3", b"-> hpke-p256-rss 2 2 4"),
    lambda h: h.replace(b"-> hpke-p256-rss 2 2 3", b"-> hpke-p256-rss 2 3 3"),
    lambda h: h.replace(b"-> hpke-p256-rss 1 2 3", b"-> hpke-p256-rss 3 2 3"),
    lambda h: h.replace(b"-> hpke-p256-rss 1 2 3", b"-> hpke-p256-rss 4 2 3"),
    lambda h: h.replace(b"-> hpke-p256 bidder", b"-> hpke-p256 escrow"),
], ids=["as-v2", "v2-stanza", "count", "threshold", "index-twice", "index-beyond", "escrow-in-v3"])
def test_the_browser_refuses_a_malformed_v3_header_as_python_does(crypto_page, mutate):
    custodians = [keys.generate_bidder_key() for _ in range(3)]
    env = envelope.seal_bytes(b"x", **IDS, recipients=[envelope.Recipient("bidder", keys.generate_bidder_key().public_key())],
                              custodians=[escrow_shares.Custodian(i + 1, c.public_key()) for i, c in enumerate(custodians)],
                              threshold=2)
    bad = mutate(env)
    assert bad != env
    with pytest.raises(envelope.InvalidEnvelope):
        envelope.read_header(io.BytesIO(bad))
    result = crypto_page.evaluate("async ({data}) => t.error(() => kb.envelope.parseHeader(t.bytes(data)))",
                                  {"data": b64(bad)})
    assert result == "InvalidEnvelope"


def test_the_browser_refuses_custodians_it_cannot_split_among(crypto_page):
    bidder = _point(keys.generate_bidder_key())
    points = [_point(keys.generate_bidder_key()) for _ in range(8)]
    result = crypto_page.evaluate("""async ({ids, bidder, points}) => {
      const seal = (custodians, threshold) => kb.envelope.sealToBytes(t.bytes("eA"), {...ids,
        recipients: [{role: "bidder", publicKey: t.bytes(bidder)}], custodians, threshold});
      const c = (keys) => keys.map((k, i) => ({index: i + 1, publicKey: t.bytes(k)}));
      const name = async (fn) => { try { await fn(); return null; } catch (e) { return e.name; } };
      return {
        eight: await name(() => seal(c(points), 5)),
        one: await name(() => seal(c(points.slice(0, 3)), 1)),
        over: await name(() => seal(c(points.slice(0, 3)), 4)),
        order: await name(() => seal(c(points.slice(0, 3)).reverse(), 2)),
        twice: await name(() => seal(c([points[0], points[0], points[1]]), 2)),
        wrongId: await name(() => seal(c(points.slice(0, 3)).map((x, i) => ({...x, keyId: i ? undefined : "0000000000000000"})), 2)),
        bidderAsCustodian: await name(() => seal(c([bidder, points[1]]), 2)),
        fromEscrow: await name(async () => kb.escrow.custodiansFromEscrow({scheme: "shares", envelope: "tender-envelope/v2",
                                                                           threshold: 5, custodians: []})),
      };
    }""", {"ids": JS_IDS, "bidder": bidder, "points": points})
    assert result == {name: "RangeError" for name in result}, result


def _setup(env: dict[str, str], tag: str) -> dict:
    res = subprocess.run([sys.executable, "manage.py", "shell", "-c",
                          f"from tests.e2e.upload_setup import build_custodian_upload; build_custodian_upload({tag!r})"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_a_bidder_seals_and_submits_a_tender_with_custodians_in_the_browser(browser, platform_server, tmp_path):
    """The submit page of a tender with four custodians (3 of them needed) seals v3 and uploads it;
    the platform receipts it; the custodians, each with only its own key, recover the stored bid's
    file key in Python and the bid opens to the documents chosen; two of them cannot."""
    from tests.e2e.uploading import bidder_page, fill_bid, open_package, stored_envelope, write_document

    who = _setup(platform_server.env, "custodians")
    doc = tmp_path / "技术标.pdf"
    digest = write_document(doc, 300_000)
    context, page = bidder_page(browser, platform_server, who)
    try:
        assert "sealbid" not in (page.text_content("#status") or "")
        fill_bid(page, [doc])
        page.click("#seal-btn")
        page.wait_for_function("() => ['done', 'error'].includes(document.getElementById('status').dataset.state)",
                               timeout=120_000)
        assert page.get_attribute("#status", "data-state") == "done", page.text_content("#status")
        assert not page.js_errors
    finally:
        context.close()
    path = stored_envelope(platform_server.env, who["lot"])
    header = envelope.read_header(io.BytesIO(path.read_bytes()[:envelope.MAX_HEADER_SIZE_V3]))
    assert header.version == "tender-envelope/v3" and header.threshold == who["threshold"] == 3
    custodians = [keys.private_key_from_scalar(bytes.fromhex(s)) for s in who["custodians"]]
    shares = [escrow_shares.unwrap_share(header, c) for c in custodians]
    with pytest.raises(envelope.InvalidEnvelope):
        escrow_shares.recover_file_key(header, shares[:2])
    file_key = escrow_shares.recover_file_key(header, [shares[3], shares[0], shares[2]])
    bidder = keys.private_key_from_scalar(bytes.fromhex(who["scalar"]))
    assert file_key == envelope.unwrap_file_key(header, bidder)
    members = _open_with(path, file_key)
    assert members["documents/技术标.pdf"] == {"size": 300_000, "sha256": digest}


def _open_with(path: Path, file_key: bytes) -> dict:
    """The stored bid's package members (size, SHA-256), opened with a recovered file key."""
    import hashlib
    import tarfile

    out = io.BytesIO()
    with open(path, "rb") as f:
        envelope.open_envelope(f, out, file_key=file_key)
    out.seek(0)
    members = {}
    with tarfile.open(fileobj=out, mode="r") as tar:
        for member in tar:
            data = tar.extractfile(member).read()
            members[member.name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    return members
