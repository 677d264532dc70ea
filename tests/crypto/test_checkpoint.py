"""Signed checkpoints (C2SP signed-note + tlog-checkpoint) and the Ed25519 key helpers."""

from __future__ import annotations

import base64
import hashlib

import pytest

from crypto import signing
from crypto.checkpoint import (
    Checkpoint, CheckpointError, NoteSigner, NoteVerifier, key_id, open_checkpoint)
from crypto.merkle import EMPTY_ROOT

ORIGIN = "kaibiao.example/audit"
SEED = b"\x01" * 32  # a fixed key, so the note below is fixed: Ed25519 signing is deterministic
ROOT_8 = bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
PUBLIC_KEY = bytes.fromhex("8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c")
VKEY = "kaibiao.example/audit+25c2fced+AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c"
NOTE = (
    "kaibiao.example/audit\n"
    "8\n"
    "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n"
    "\n"
    "\u2014 kaibiao.example/audit "
    "JcL87az14zwXVhq4hAMQKhLvTe5pmgWwhjNjLNlzUTXyZt53rSDdkK/hmUvdBbcYMtSEF7xwrfCNOQ7krKLSjZdOgAY=\n"
)

# The example of golang.org/x/mod/sumdb/note (Go's reference implementation of signed notes).
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = ("If you think cryptography is the answer to your problem,\n"
           "then you don't know what your problem is.\n")
GO_NOTE = GO_TEXT + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1" \
    "FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"


def signer(name: str = ORIGIN, seed: bytes = SEED) -> NoteSigner:
    return NoteSigner(name, signing.signing_key_from_seed(seed))


def verifier() -> NoteVerifier:
    return NoteVerifier.from_vkey(VKEY)


# --- the note format ----------------------------------------------------------------------------

def test_a_checkpoint_round_trips_through_a_signed_note():
    checkpoint = Checkpoint(ORIGIN, 123456, ROOT_8, ("extension line",))
    key = signing.generate_signing_key()
    note = NoteSigner(ORIGIN, key).sign(checkpoint.to_body())
    assert open_checkpoint(note, NoteVerifier(ORIGIN, signing.public_key_bytes(key))) == checkpoint
    assert open_checkpoint(note.encode(), NoteVerifier(ORIGIN, key.public_key())) == checkpoint
    assert Checkpoint.parse_body(checkpoint.to_body()) == checkpoint


def test_the_note_for_a_fixed_key_is_exactly_known():
    body = Checkpoint(ORIGIN, 8, ROOT_8).to_body()
    assert body == "kaibiao.example/audit\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n"
    assert signing.public_key_bytes(signing.signing_key_from_seed(SEED)) == PUBLIC_KEY
    # key id = SHA-256(name || 0x0A || 0x01 || public key)[:4]
    kid = hashlib.sha256(ORIGIN.encode() + b"\n\x01" + PUBLIC_KEY).digest()[:4]
    assert kid.hex() == "25c2fced" == key_id(ORIGIN, PUBLIC_KEY).hex()
    typed_key = base64.b64encode(b"\x01" + PUBLIC_KEY).decode()  # type 0x01 = Ed25519
    assert VKEY == f"{ORIGIN}+{kid.hex()}+{typed_key}"
    # The signature line carries base64(key id || the Ed25519 signature of the body's UTF-8).
    sig = signing.sign(signing.signing_key_from_seed(SEED), body.encode())
    assert NOTE == f"{body}\n\u2014 {ORIGIN} {base64.b64encode(kid + sig).decode()}\n"
    assert signer().sign(body) == NOTE
    assert signer().vkey == VKEY
    assert open_checkpoint(NOTE, verifier()) == Checkpoint(ORIGIN, 8, ROOT_8)


def test_it_reproduces_the_go_sumdb_note_example_byte_for_byte():
    seed = base64.b64decode(GO_SKEY.split("+", 4)[4])[1:]  # skey: ...+base64(0x01 || seed)
    go_signer = NoteSigner("PeterNeumann", signing.signing_key_from_seed(seed))
    assert go_signer.sign(GO_TEXT) == GO_NOTE
    assert go_signer.vkey == GO_VKEY
    assert NoteVerifier.from_vkey(GO_VKEY).verify(GO_NOTE) == GO_TEXT


def test_it_rejects_a_flipped_byte_anywhere_in_the_note():
    data = NOTE.encode()
    for position in range(len(data)):
        for mask in (0x01, 0x20, 0x80):
            tampered = bytearray(data)
            tampered[position] ^= mask
            with pytest.raises(CheckpointError):
                open_checkpoint(bytes(tampered), verifier())


def test_it_rejects_a_truncated_or_extended_note():
    for end in range(len(NOTE)):
        with pytest.raises(CheckpointError):
            open_checkpoint(NOTE[:end], verifier())
    for extra in ("\n", " ", "x", "\u2014 \n"):
        with pytest.raises(CheckpointError):
            open_checkpoint(NOTE + extra, verifier())


def test_it_rejects_a_note_signed_by_another_key():
    body = Checkpoint(ORIGIN, 8, ROOT_8).to_body()
    forged = signer(seed=b"\x02" * 32).sign(body)  # same name, another key (so another key id)
    with pytest.raises(CheckpointError, match="not signed by"):
        open_checkpoint(forged, verifier())
    # The right key id on a signature by another key is a bad signature, not an unknown key.
    line = forged.splitlines()[-1]
    sig = base64.b64decode(line.split(" ")[-1])[4:]
    ours_id = bytes.fromhex("25c2fced")
    spoofed = body + f"\n\u2014 {ORIGIN} {base64.b64encode(ours_id + sig).decode()}\n"
    with pytest.raises(CheckpointError, match="bad signature"):
        open_checkpoint(spoofed, verifier())


def test_it_ignores_signatures_by_unknown_keys_but_not_a_bad_one_by_the_known_key():
    body = Checkpoint(ORIGIN, 8, ROOT_8).to_body()
    witness = signer("witness.example/w1", b"\x03" * 32).sign(body).split("\n\n")[-1]
    ours = NOTE.split("\n\n")[-1]
    for block in (ours + witness, witness + ours):
        assert open_checkpoint(body + "\n" + block, verifier()) == Checkpoint(ORIGIN, 8, ROOT_8)
    with pytest.raises(CheckpointError, match="not signed by"):
        open_checkpoint(body + "\n" + witness, verifier())
    raw = bytearray(base64.b64decode(ours.split(" ")[-1]))
    raw[10] ^= 1  # in the signature, after the 4-byte key id: still "our" key, now a bad signature
    broken = f"\u2014 {ORIGIN} {base64.b64encode(raw).decode()}\n"
    with pytest.raises(CheckpointError, match="bad signature"):
        open_checkpoint(body + "\n" + ours + broken, verifier())


@pytest.mark.parametrize("note", [
    "kaibiao.example/audit\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",  # no signatures
    NOTE.replace("\n\n", "\n"),  # no blank line
    NOTE.replace("\u2014 ", "- "),  # not an em dash
    NOTE.replace("\u2014 ", "\u2014"),  # no space after it
    NOTE.replace("\n", "\r\n"),  # CRLF: a control character
    NOTE[:-1],  # the signature line does not end in a newline
    NOTE.replace(f"{ORIGIN} J", f"{ORIGIN}  J"),  # a double space
    NOTE.replace("AY=\n", "AY\n"),  # unpadded base64
    NOTE.replace("AY=\n", "AZ=\n"),  # non-canonical base64 (unused bits set)
    NOTE + "\u2014 x \n",  # empty signature
    NOTE + "\u2014 x AAAA\n",  # a key id without a signature
    NOTE + "\u2014 x AAAAAAA=\n" * 100,  # too many signatures
    "\ud800" + NOTE,  # not encodable as UTF-8
    NOTE.encode("utf-16"),  # not UTF-8
])
def test_it_rejects_a_malformed_note(note):
    with pytest.raises(CheckpointError):
        verifier().verify(note)


def test_the_checkpoint_origin_must_be_the_expected_one():
    other = NoteSigner("kaibiao.example/other", signing.signing_key_from_seed(SEED))
    note = other.sign(Checkpoint(ORIGIN, 8, ROOT_8).to_body())
    trusted = NoteVerifier("kaibiao.example/other", PUBLIC_KEY)
    with pytest.raises(CheckpointError, match="origin"):
        open_checkpoint(note, trusted)  # by default the origin must be the key's name
    assert open_checkpoint(note, trusted, origin=ORIGIN).size == 8


# --- verifier keys ------------------------------------------------------------------------------

def test_a_vkey_round_trips():
    parsed = NoteVerifier.from_vkey(VKEY)
    assert (parsed.name, parsed.key_id.hex(), parsed.public_key_bytes) == \
        (ORIGIN, "25c2fced", PUBLIC_KEY)
    assert parsed.vkey == VKEY
    for _ in range(50):  # random keys: the base64 of many of them contains a "+"
        fresh = NoteSigner("example.com/log42", signing.generate_signing_key()).vkey
        assert NoteVerifier.from_vkey(fresh).vkey == fresh


def test_a_vkey_whose_base64_contains_a_plus_parses():
    # From the tests of transparency-dev/formats (note/note_cosigv1_test.go).
    plus_key = "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6"
    parsed = NoteVerifier.from_vkey(plus_key)
    assert (parsed.name, parsed.key_id.hex(), parsed.vkey) == ("TEST", "7997405c", plus_key)


@pytest.mark.parametrize("vkey", [
    VKEY.replace("+25c2fced+", "+25c2fcee+"),  # key id does not match
    VKEY.replace("+25c2fced+", "+25C2FCED+"),  # not lowercase
    VKEY.replace("+25c2fced+", "+25c2fce+"),  # too short
    VKEY.replace("+AYqI", "+AoqI"),  # not type 0x01
    VKEY[:-4],  # a short key
    VKEY.replace("kaibiao.example/audit", "kaibiao example"),  # whitespace in the name
    "+" + VKEY,  # an empty name
    VKEY + "+",  # an extra field
    "no plus signs at all",
])
def test_it_rejects_a_malformed_vkey(vkey):
    with pytest.raises(CheckpointError):
        NoteVerifier.from_vkey(vkey)


@pytest.mark.parametrize("name", ["", "a b", "a+b", "a\tb", "a\u3000b", "a\nb", "a\x00b"])
def test_key_names_without_whitespace_or_plus(name):
    with pytest.raises(CheckpointError):
        NoteSigner(name, signing.signing_key_from_seed(SEED))


# --- checkpoint bodies --------------------------------------------------------------------------

GOOD_ROOT = "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg="


@pytest.mark.parametrize("body", [
    f"{ORIGIN}\n08\n{GOOD_ROOT}\n",  # leading zero
    f"{ORIGIN}\n00\n{GOOD_ROOT}\n",
    f"{ORIGIN}\n+8\n{GOOD_ROOT}\n",
    f"{ORIGIN}\n-1\n{GOOD_ROOT}\n",
    f"{ORIGIN}\n 8\n{GOOD_ROOT}\n",
    f"{ORIGIN}\n8.0\n{GOOD_ROOT}\n",
    f"{ORIGIN}\n1_000\n{GOOD_ROOT}\n",
    f"{ORIGIN}\n\u0668\n{GOOD_ROOT}\n",  # an Arabic-Indic eight: int() would accept it
    f"{ORIGIN}\n\n{GOOD_ROOT}\n",
    f"{ORIGIN}\n{2**64}\n{GOOD_ROOT}\n",  # beyond uint64
    f"{ORIGIN}\n8\n{base64.b64encode(ROOT_8[:31]).decode()}\n",  # a short root
    f"{ORIGIN}\n8\n{base64.b64encode(ROOT_8 + b'x').decode()}\n",  # a long root
    f"{ORIGIN}\n8\n{GOOD_ROOT.rstrip('=')}\n",  # unpadded
    f"{ORIGIN}\n8\n{GOOD_ROOT.replace('g=', 'h=')}\n",  # non-canonical last character
    f"{ORIGIN}\n8\n{GOOD_ROOT.replace('+', '-')}\n",  # URL-safe alphabet
    f"{ORIGIN}\n8\n{GOOD_ROOT}",  # no final newline
    f"{ORIGIN}\n8\n",  # two lines
    f"{ORIGIN}\n8\n{GOOD_ROOT}\n\n",  # an empty extension line
    f"\n8\n{GOOD_ROOT}\n",  # an empty origin
    f"kaibiao example\n8\n{GOOD_ROOT}\n",  # an origin that cannot be a key name
    f"{ORIGIN}\n8\n{GOOD_ROOT}\nbell\x07\n",  # a control character
])
def test_it_rejects_a_bad_checkpoint_body(body):
    with pytest.raises(CheckpointError):
        Checkpoint.parse_body(body)


def test_it_accepts_the_boundary_sizes_and_extension_lines():
    for size in (0, 1, 2**64 - 1):
        body = f"{ORIGIN}\n{size}\n{GOOD_ROOT}\nx\ny z\n"
        assert Checkpoint.parse_body(body) == Checkpoint(ORIGIN, size, ROOT_8, ("x", "y z"))
    assert Checkpoint(ORIGIN, 0, EMPTY_ROOT).to_body() == \
        f"{ORIGIN}\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"


@pytest.mark.parametrize("args", [
    (ORIGIN, -1, ROOT_8), (ORIGIN, True, ROOT_8), (ORIGIN, 2**64, ROOT_8), (ORIGIN, "8", ROOT_8),
    (ORIGIN, 8, ROOT_8[:31]), (ORIGIN, 8, ROOT_8.hex()), ("", 8, ROOT_8), ("a+b", 8, ROOT_8),
    (ORIGIN, 8, ROOT_8, ("",)), (ORIGIN, 8, ROOT_8, ("two\nlines",)),
])
def test_it_refuses_to_build_an_invalid_checkpoint(args):
    with pytest.raises(CheckpointError):
        Checkpoint(*args)


@pytest.mark.parametrize("body", ["", "no final newline", "tab\there\n", "cr\r\n", "\ud800\n"])
def test_the_signer_refuses_a_body_that_would_not_split_back_out(body):
    with pytest.raises(CheckpointError):
        signer().sign(body)


# --- Ed25519 key helpers ------------------------------------------------------------------------

def test_a_signing_key_round_trips_through_pem_with_and_without_a_password():
    key = signing.generate_signing_key()
    for password in (None, b"correct horse"):
        pem = signing.signing_key_to_pem(key, password)
        assert pem.startswith(b"-----BEGIN ")
        loaded = signing.load_signing_key_pem(pem, password)
        assert signing.public_key_bytes(loaded) == signing.public_key_bytes(key)
    encrypted = signing.signing_key_to_pem(key, b"correct horse")
    assert b"ENCRYPTED" in encrypted
    for wrong in (b"wrong", None):
        with pytest.raises(signing.KeyFormatError):
            signing.load_signing_key_pem(encrypted, wrong)
    with pytest.raises(signing.KeyFormatError):
        garbage = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
        signing.load_signing_key_pem(garbage, None)
    with pytest.raises(ValueError):
        signing.signing_key_to_pem(key, b"")


def test_sign_and_verify_raise_one_error_for_every_failure():
    key = signing.signing_key_from_seed(SEED)
    sig = signing.sign(key, b"message")
    signing.verify(PUBLIC_KEY, sig, b"message")
    signing.verify(signing.load_public_key_bytes(PUBLIC_KEY), sig, b"message")
    other = signing.public_key_bytes(signing.generate_signing_key())
    flipped = bytes([sig[0] ^ 1]) + sig[1:]
    for public_key, signature, message in [(PUBLIC_KEY, sig, b"messagE"), (other, sig, b"message"),
                                           (PUBLIC_KEY, flipped, b"message"),
                                           (PUBLIC_KEY, sig[:63], b"message"),
                                           (PUBLIC_KEY[:31], sig, b"message")]:
        with pytest.raises(signing.SignatureError):
            signing.verify(public_key, signature, message)
    with pytest.raises(TypeError):
        signing.sign(key, "text")
    with pytest.raises(signing.KeyFormatError):
        signing.load_public_key_bytes(b"\x00" * 31)
