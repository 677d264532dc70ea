"""Envelopes with custodians' shares for the tests of v2 (Shamir, test_escrow_shares.py) and v3
(replicated sharing, test_escrow_replicated.py): sealing one, finding and moving its share
stanzas, and the checks both versions pass the same way. The two differ in the stanza's name
(``hpke-p256-share`` / ``hpke-p256-rss``) and the share's size, which these helpers read from the
header; what is particular to one version stays in its module."""

from __future__ import annotations

import io
import itertools

import pytest

from crypto import envelope, escrow_shares, keys
from crypto.envelope import InvalidEnvelope

IDS = dict(tender_id="ZB-2026-0042", lot_id="1", bidder_id="91320000MA1XYZ0001")
SHARE_STANZA = {envelope.FORMAT_V2: "hpke-p256-share", envelope.FORMAT_V3: "hpke-p256-rss"}


def custodians(n):
    private = [keys.generate_bidder_key() for _ in range(n)]
    return private, [escrow_shares.Custodian(i + 1, k.public_key()) for i, k in enumerate(private)]


def seal(plaintext=b"price 123456 fen", k=3, n=5, custodians_=None, *, options=None, **ids):
    """An envelope for a fresh bidder with ``k``-of-``n`` custodians (new ones unless given as
    ``custodians()``'s pair); ``options``: more of seal_bytes's arguments (v2 must be asked for
    with ``version``; v3 is the default). Returns (envelope, bidder's key, custodians' keys)."""
    bidder = keys.generate_bidder_key()
    private, public = custodians_ or custodians(n)
    env = envelope.seal_bytes(plaintext, **{**IDS, **ids}, chunk_size=64,
                              recipients=[envelope.Recipient("bidder", bidder.public_key())],
                              custodians=public, threshold=k, **(options or {}))
    return env, bidder, private


def header(env):
    return envelope.read_header(io.BytesIO(env))


def stanza_at(env, index):
    """The header's lines, and where share stanza ``index`` starts and ends (its body's lines)."""
    h = header(env)
    lines = env[:h.size].split(b"\n")
    at = next(i for i, x in enumerate(lines) if x.startswith(f"-> {SHARE_STANZA[h.version]} {index} ".encode()))
    end = next(i for i in range(at + 1, len(lines)) if lines[i].startswith((b"-> ", b"--- ")))
    return lines, at, end


def with_stanza(target_env, source_env, index):
    """``target_env`` with its share stanza ``index`` replaced by ``source_env``'s (same custodians)."""
    target, at, end = stanza_at(target_env, index)
    source, src_at, src_end = stanza_at(source_env, index)
    target[at:end] = source[src_at:src_end]
    return b"\n".join(target) + target_env[header(target_env).size:]


def check_any_k_custodians_recover_and_k_minus_one_do_not(version, options=None):
    """3-of-5 sealed with ``options``: the header is ``version`` and names the custodians' keys,
    every 3 shares recover the file key the bidder unwraps, no 2 do, and the key opens the
    envelope. Returns (header, shares)."""
    env, bidder, private = seal(k=3, n=5, options=options)
    h = header(env)
    assert h.version == version and h.threshold == 3
    assert h.share_key_ids() == tuple(keys.key_id(p.public_key()) for p in private)
    file_key = envelope.unwrap_file_key(h, bidder, role="bidder")
    shares = [escrow_shares.unwrap_share(h, p) for p in private]
    for subset in itertools.combinations(shares, 3):
        assert escrow_shares.recover_file_key(h, list(subset)) == file_key
    for subset in itertools.combinations(shares, 2):
        with pytest.raises(InvalidEnvelope):
            escrow_shares.recover_file_key(h, list(subset))
    assert envelope.open_bytes(env, file_key=file_key) == b"price 123456 fen"
    return h, shares


def check_a_share_moved_to_another_envelope_does_not_open(options=None):
    cs = custodians(3)
    env_a, _, private = seal(b"alice", k=2, n=3, custodians_=cs, options=options)
    env_b, _, _ = seal(b"bob", k=2, n=3, custodians_=cs, options=options, bidder_id="91320000MA1XYZ0002")
    env_a2, _, _ = seal(b"alice again", k=2, n=3, custodians_=cs, options=options)  # same ids, other commitment
    for other in (env_b, env_a2):
        moved = with_stanza(other, env_a, 1)
        h = header(moved)  # structurally fine: the platform cannot tell
        with pytest.raises(InvalidEnvelope):
            escrow_shares.unwrap_share(h, private[0])
    share_a = escrow_shares.unwrap_share(header(env_a), private[0])
    share_b = escrow_shares.unwrap_share(header(env_b), private[1])
    with pytest.raises(InvalidEnvelope):  # A's released share does not help open B, even with B's other shares
        escrow_shares.recover_file_key(header(env_b), [share_a, share_b])


def check_a_share_relabelled_to_another_custodian_does_not_open(options=None):
    """Stanzas 1 and 2 swap key ids: each now names the other custodian, and neither unwraps."""
    env, _, private = seal(k=2, n=3, options=options)
    name = SHARE_STANZA[header(env).version]
    raw = bytearray(env)
    first, second = f"-> {name} 1 2 3 ".encode(), f"-> {name} 2 2 3 ".encode()
    a, b, off = raw.index(first), raw.index(second), len(first)
    kid1, kid2 = bytes(raw[a + off:a + off + 16]), bytes(raw[b + off:b + off + 16])
    raw[a + off:a + off + 16], raw[b + off:b + off + 16] = kid2, kid1
    h = header(bytes(raw))
    for p in private[:2]:
        with pytest.raises(InvalidEnvelope):
            escrow_shares.unwrap_share(h, p)
