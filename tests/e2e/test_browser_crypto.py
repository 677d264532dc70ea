"""The browser's ``tender-envelope/v1`` (frontend/static/frontend/crypto/) against the Python one.

Every checked-in vector opens (or is refused) in Chromium and the browser reproduces the valid ones
byte for byte; bids sealed in the browser open in Python and the other way round, around chunk
boundaries; its HPKE matches RFC 9180 A.3.1 and ``cryptography``'s; tampering is refused.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hpke

from crypto import keys
from crypto.envelope import DEFAULT_CHUNK_SIZE, Recipient, open_bytes, read_header, seal_bytes, unwrap_file_key
from tests.crypto.test_envelope import MALFORMED, _valid_header
from tests.e2e.conftest import open_crypto_page
from tests.e2e.interop import BINDING, IDS, JS_IDS, b64, pkcs8, public, scalar_pkcs8, sealed_to, unb64

pytestmark = pytest.mark.e2e

VECTORS = Path(__file__).resolve().parents[1] / "crypto" / "vectors" / "envelope-v1"
INDEX = json.loads((VECTORS / "index.json").read_text(encoding="utf-8"))
BY_NAME = {v["name"]: v for v in INDEX["vectors"]}
BIDDER = keys.generate_bidder_key()
ESCROW = keys.generate_bidder_key()


def test_the_self_test_page_seals_and_opens_a_bid(page, platform_server):
    open_crypto_page(page, platform_server)
    page.get_by_role("button", name="Run the round trip").click()
    result = page.locator("#result")
    result.filter(has_text="OK").wait_for(timeout=10_000)
    assert result.text_content() == "OK" and page.js_errors == []


# --- the checked-in vectors -----------------------------------------------------------------------

OPEN_VECTOR = """async ({data, keys, fileKey, attackerKey, roles}) => {
  const e = kb.envelope, env = t.bytes(data), fk = t.bytes(fileKey);
  const out = {};
  out.header = await t.error(() => e.parseHeader(env));
  if (out.header) return out;
  const header = await e.parseHeader(env);
  out.binding = header.binding; out.chunkSize = header.chunkSize;
  out.commitment = header.commitmentB64; out.nonce = kb.b64.toHex(header.nonce);
  out.verify = await t.error(() => e.verifyFileKey(header, fk));
  out.unwrapped = {};
  for (const role of roles) {
    const key = await t.key(keys[role]);
    try { out.unwrapped[role] = t.b64(await e.unwrapFileKey(header, key, {role})); }
    catch (err) { out.unwrapped[role] = err.name; }
  }
  out.stranger = await t.error(async () => e.unwrapFileKey(header, await t.key(keys.stranger)));
  try { out.plaintext = t.b64(await e.openToBytes(env, {fileKey: fk, expected: header.binding})); }
  catch (err) { out.open = err.name; }
  if (attackerKey) {
    out.attackerVerify = await t.error(() => e.verifyFileKey(header, t.bytes(attackerKey)));
    out.attackerOpen = await t.error(() => e.openToBytes(env, {fileKey: t.bytes(attackerKey)}));
  }
  return out;
}"""


@pytest.mark.parametrize("vector", INDEX["vectors"], ids=lambda v: v["name"])
def test_every_checked_in_vector_opens_or_is_refused_in_the_browser(crypto_page, vector):
    data = (VECTORS / vector["file"]).read_bytes()
    base = BY_NAME.get(vector.get("base"), vector)
    file_key = b64(bytes.fromhex(base["file_key"]))
    expect = vector["expect"]
    roles = base["recipients"] if expect != "header" else []
    result = crypto_page.evaluate(OPEN_VECTOR, {
        "data": b64(data), "fileKey": file_key, "roles": roles,
        "keys": {name: scalar_pkcs8(k["scalar"]) for name, k in INDEX["keys"].items()},
        "attackerKey": b64(bytes.fromhex(vector["attacker_file_key"])) if expect == "salamander" else None,
    })
    if expect == "header":
        assert result == {"header": "InvalidEnvelope"}
        return
    assert result["header"] is None
    if expect == "key":
        assert result["verify"] == "InvalidEnvelope"
        assert result["unwrapped"] == {"bidder": "InvalidEnvelope"}
        assert result["open"] == "InvalidEnvelope"
        return
    assert result["verify"] is None
    assert result["unwrapped"] == {role: file_key for role in roles}
    assert result["stranger"] == "InvalidEnvelope"
    if expect == "payload":
        assert result["open"] == "InvalidEnvelope" and "plaintext" not in result
        return
    assert result["binding"] == {"tenderId": vector["tender"], "lotId": vector["lot"],
                                 "bidderId": vector["bidder"]}
    assert (result["chunkSize"], result["commitment"], result["nonce"]) == (
        vector["chunk_size"], vector["commitment"], vector["nonce"])
    assert unb64(result["plaintext"]) == bytes.fromhex(vector["plaintext"])
    if expect == "salamander":
        assert result["attackerVerify"] == result["attackerOpen"] == "InvalidEnvelope"
    else:
        assert expect == "ok"


RESEAL_VECTOR = """async ({plaintext, fileKey, nonce, chunkSize, ids, recipients, ephemerals}) => {
  const pairs = [];
  for (const pkcs8 of ephemerals) pairs.push(await t.key(pkcs8));
  const sealer = await kb.envelope._internals.sealWith(
    t.bytes(plaintext), {...ids, chunkSize, recipients: recipients.map(
      ([role, key]) => ({role, publicKey: t.bytes(key)}))},
    t.bytes(fileKey), t.bytes(nonce), pairs);
  return t.b64(new Uint8Array(await (await sealer.toBlob()).arrayBuffer()));
}"""


@pytest.mark.parametrize("name", [v["name"] for v in INDEX["vectors"] if "ephemeral_scalars" in v])
def test_the_browser_reproduces_the_valid_vectors_byte_for_byte(crypto_page, name):
    """With the vector's file key, nonce and HPKE ephemeral keys fixed, the browser writes the
    same bytes as Python: HPKE with AES-256-GCM, the header and STREAM all agree exactly."""
    v = BY_NAME[name]
    envelope = crypto_page.evaluate(RESEAL_VECTOR, {
        "plaintext": b64(bytes.fromhex(v["plaintext"])), "fileKey": b64(bytes.fromhex(v["file_key"])),
        "nonce": b64(bytes.fromhex(v["nonce"])), "chunkSize": v["chunk_size"],
        "ids": {"tenderId": v["tender"], "lotId": v["lot"], "bidderId": v["bidder"]},
        "recipients": [[role, b64(bytes.fromhex(INDEX["keys"][role]["public_key"]))]
                       for role in v["recipients"]],
        "ephemerals": [scalar_pkcs8(s) for s in v["ephemeral_scalars"]],
    })
    assert unb64(envelope) == (VECTORS / v["file"]).read_bytes()


# --- HPKE ---------------------------------------------------------------------------------------------

# RFC 9180, Appendix A.3.1: DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, base mode, the
# first encryption (sequence number 0). There is no official vector with AES-256-GCM for P-256;
# that suite is checked against the envelope vectors above and cryptography's HPKE below.
RFC9180_A31 = {
    "skEm": "4995788ef4b9d6132b249ce59a77281493eb39af373d236a1fe415cb0c2d7beb",
    "pkEm": "04a92719c6195d5085104f469a8b9814d5838ff72b60501e2c4466e5e67b325ac98536d7b61a1af4b78e5b7"
            "f951c0900be863c403ce65c9bfcb9382657222d18c4",
    "skRm": "f3ce7fdae57e1a310d87f1ebbde6f328be0a99cdbcadf4d6589cf29de4b8ffd2",
    "pkRm": "04fe8c19ce0905191ebc298a9245792531f26f0cece2460639e8bc39cb7f706a826a779b4cf969b8a0e539"
            "c7f62fb3d30ad6aa8f80e30f1d128aafd68a2ce72ea0",
    "info": "4f6465206f6e2061204772656369616e2055726e",
    "shared_secret": "c0d26aeab536609a572b07695d933b589dcf363ff9d93c93adea537aeabb8cb8",
    "key_schedule_context": "00b88d4e6d91759e65e87c470e8b9141113e9ad5f0c8ceefc1e088c82e6980500798e486"
                            "f9c9c09c9b5c753ac72d6005de254c607d1b534ed11d493ae1c1d9ac85",
    "secret": "2eb7b6bf138f6b5aff857414a058a3f1750054a9ba1f72c2cf0684a6f20b10e1",
    "key": "868c066ef58aae6dc589b6cfdd18f97e",
    "base_nonce": "4e0bc5018beba4bf004cca59",
    "pt": "4265617574792069732074727574682c20747275746820626561757479",
    "aad": "436f756e742d30",
    "ct": "5ad590bb8baa577f8619db35a36311226a896e7342a6d836d8b7bcd2f20b6c7f9076ac232e3ab2523f39513434",
}


def test_hpke_matches_rfc_9180_appendix_a31(crypto_page):
    v = RFC9180_A31
    result = crypto_page.evaluate("""async ({v, skE, skR}) => {
      const h = kb.hpke, x = kb.b64.fromHex, hex = kb.b64.toHex;
      const eph = {privateKey: (await t.key(skE)).privateKey, publicKey: x(v.pkEm)};
      const recipient = {privateKey: (await t.key(skR)).privateKey, publicKey: x(v.pkRm)};
      const {sharedSecret, enc} = await h._internals.encap(x(v.pkRm), eph);
      const decapped = await h._internals.decap(enc, recipient.privateKey, x(v.pkRm));
      const schedule = await h._internals.keySchedule(h.AEAD_AES_128_GCM, sharedSecret, x(v.info));
      const sealed = await h.sealBase(x(v.pkRm), x(v.info), x(v.aad), x(v.pt),
                                      {aeadId: h.AEAD_AES_128_GCM, ephemeral: eph});
      const opened = await h.openBase(x(v.pkEm), recipient, x(v.info), x(v.aad), x(v.ct),
                                      {aeadId: h.AEAD_AES_128_GCM});
      const tampered = x(v.ct); tampered[0] ^= 1;
      return {shared_secret: hex(sharedSecret), decapped: hex(decapped), enc: hex(sealed.enc),
              key_schedule_context: hex(schedule.context), secret: hex(schedule.secret),
              key: hex(schedule.key), base_nonce: hex(schedule.baseNonce), ct: hex(sealed.ct),
              pt: hex(opened),
              tampered: await t.error(() => h.openBase(x(v.pkEm), recipient, x(v.info), x(v.aad), tampered,
                                                       {aeadId: h.AEAD_AES_128_GCM}))};
    }""", {"v": v, "skE": scalar_pkcs8(v["skEm"]), "skR": scalar_pkcs8(v["skRm"])})
    assert result.pop("enc") == v["pkEm"]
    assert result.pop("decapped") == v["shared_secret"]
    assert result.pop("tampered") == "HpkeError"
    assert result == {name: v[name] for name in result}


SUITE = hpke.Suite(hpke.KEM.P256, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


def test_hpke_with_aes_256_gcm_interoperates_with_cryptography_both_ways(crypto_page):
    info = "tender-envelope/v1\nrole bidder 招标".encode()
    messages = [b"", os.urandom(32), os.urandom(1000)]
    from_python = [b64(SUITE.encrypt(m, BIDDER.public_key(), info=info)) for m in messages]
    result = crypto_page.evaluate("""async ({sk, pk, info, fromPython, messages}) => {
      const recipient = {privateKey: (await t.key(sk)).privateKey, publicKey: t.bytes(pk)};
      const opened = [], sealed = [];
      for (const body of fromPython) {
        const b = t.bytes(body);
        opened.push(t.b64(await kb.hpke.openBase(b.subarray(0, 65), recipient, t.bytes(info),
                                                 new Uint8Array(0), b.subarray(65))));
      }
      for (const m of messages) {
        const {enc, ct} = await kb.hpke.sealBase(t.bytes(pk), t.bytes(info), new Uint8Array(0), t.bytes(m));
        sealed.push(t.b64(kb.b64.concat(enc, ct)));
      }
      return {opened, sealed};
    }""", {"sk": pkcs8(BIDDER), "pk": public(BIDDER), "info": b64(info),
           "fromPython": from_python, "messages": [b64(m) for m in messages]})
    assert [unb64(m) for m in result["opened"]] == messages
    assert [SUITE.decrypt(unb64(c), BIDDER, info=info) for c in result["sealed"]] == messages
    assert len(set(result["sealed"])) == len(messages)  # a fresh ephemeral key each time


# --- interoperability with crypto.envelope ---------------------------------------------------------------

SIZES = [(64, 0), (64, 1), (64, 63), (64, 64), (64, 65), (64, 64 * 5 + 7), (1000, 10_000),
         (DEFAULT_CHUNK_SIZE, 0), (DEFAULT_CHUNK_SIZE, DEFAULT_CHUNK_SIZE - 1),
         (DEFAULT_CHUNK_SIZE, DEFAULT_CHUNK_SIZE), (DEFAULT_CHUNK_SIZE, DEFAULT_CHUNK_SIZE + 1)]

SEAL = """async ({plaintext, ids, chunkSize, recipients}) => {
  const sealer = await kb.envelope.seal(t.bytes(plaintext), {
    ...ids, chunkSize, recipients: recipients.map(([role, key]) => ({role, publicKey: t.bytes(key)}))});
  const bytes = new Uint8Array(await (await sealer.toBlob()).arrayBuffer());
  return {envelope: t.b64(bytes), size: sealer.envelopeSize, commitment: sealer.commitment,
          headerSize: sealer.headerSize};
}"""


@pytest.mark.parametrize("chunk_size,size", SIZES, ids=lambda x: str(x))
def test_a_bid_sealed_in_the_browser_opens_in_python(crypto_page, chunk_size, size):
    plaintext = os.urandom(size)
    result = crypto_page.evaluate(SEAL, {
        "plaintext": b64(plaintext), "ids": JS_IDS, "chunkSize": chunk_size,
        "recipients": [["bidder", public(BIDDER)], ["escrow", public(ESCROW)]]})
    data = unb64(result["envelope"])
    assert len(data) == result["size"]
    header = read_header(io.BytesIO(data))
    assert (header.binding, header.chunk_size, header.size) == (BINDING, chunk_size, result["headerSize"])
    assert header.commitment_b64 == result["commitment"]
    assert header.key_ids("bidder") == (keys.key_id(BIDDER.public_key()),)
    file_key = unwrap_file_key(header, BIDDER, role="bidder")
    assert unwrap_file_key(header, ESCROW, role="escrow") == file_key
    assert open_bytes(data, file_key=file_key, expected=BINDING) == plaintext


OPEN = """async ({envelope, sk, pk, ids}) => {
  const data = t.bytes(envelope);
  const header = await kb.envelope.parseHeader(new Blob([data]));
  const key = {privateKey: (await t.key(sk)).privateKey, publicKey: t.bytes(pk)};
  const fileKey = await kb.envelope.unwrapFileKey(header, key, {role: "bidder"});
  const plaintext = await kb.envelope.openToBytes(new Blob([data]), {fileKey, expected: ids});
  const elsewhere = {...ids, lotId: ids.lotId + "0"};
  return {fileKey: t.b64(fileKey), plaintext: t.b64(plaintext), headerSize: header.size,
          moved: await t.error(() => kb.envelope.openToBytes(data, {fileKey, expected: elsewhere}))};
}"""


@pytest.mark.parametrize("chunk_size,size", SIZES, ids=lambda x: str(x))
def test_a_bid_sealed_in_python_opens_in_the_browser(crypto_page, chunk_size, size):
    plaintext = os.urandom(size)
    data = seal_bytes(plaintext, **IDS, chunk_size=chunk_size,
                      recipients=[Recipient("bidder", BIDDER.public_key()), Recipient("escrow", ESCROW.public_key())])
    header = read_header(io.BytesIO(data))
    result = crypto_page.evaluate(OPEN, {"envelope": b64(data), "sk": pkcs8(BIDDER), "pk": public(BIDDER),
                                         "ids": JS_IDS})
    assert unb64(result["fileKey"]) == unwrap_file_key(header, BIDDER)
    assert unb64(result["plaintext"]) == plaintext
    assert result["headerSize"] == header.size
    assert result["moved"] == "InvalidEnvelope"


def test_the_browser_refuses_every_malformed_header(crypto_page):
    """The structural checks of crypto.envelope.read_header, case by case (tests/crypto)."""
    header = _valid_header()
    bad = {name: b64(mutate(header) + b"payload") for name, mutate in MALFORMED.items()}
    result = crypto_page.evaluate("""async ({bad, good}) => {
      const out = {};
      for (const [name, data] of Object.entries(bad)) out[name] = await t.error(() => kb.envelope.parseHeader(t.bytes(data)));
      out.good = await t.error(() => kb.envelope.parseHeader(t.bytes(good)));
      return out;
    }""", {"bad": bad, "good": b64(header)})
    assert result.pop("good") is None
    assert result == {name: "InvalidEnvelope" for name in MALFORMED}


def test_every_bit_flip_and_truncation_is_refused_in_the_browser(crypto_page):
    data = sealed_to(BIDDER.public_key(), bytes(i % 251 for i in range(200)))
    file_key = unwrap_file_key(read_header(io.BytesIO(data)), BIDDER)
    result = crypto_page.evaluate("""async ({envelope, fileKey}) => {
      const data = t.bytes(envelope), fk = t.bytes(fileKey), e = kb.envelope;
      const accepted = [];
      const opens = async (bytes) => (await t.error(() => e.openToBytes(bytes, {fileKey: fk}))) === null;
      if (!await opens(data)) return {error: "the intact envelope does not open"};
      for (let i = 0; i < data.length; i++) {
        for (const bit of [0x01, 0x80]) {
          const flipped = data.slice(); flipped[i] ^= bit;
          if (await opens(flipped)) accepted.push(`flip ${i}/${bit}`);
        }
      }
      for (let n = 0; n < data.length; n++) if (await opens(data.subarray(0, n))) accepted.push(`cut ${n}`);
      if (await opens(kb.b64.concat(data, new Uint8Array(1)))) accepted.push("appended");
      return {accepted, tried: data.length};
    }""", {"envelope": b64(data), "fileKey": b64(file_key)})
    assert result == {"accepted": [], "tried": len(data)}
