"""Signed checkpoints of the audit log: C2SP tlog-checkpoint bodies in C2SP signed notes.

A checkpoint body (https://c2sp.org/tlog-checkpoint) is::

    <origin>\\n<tree size in decimal>\\n<base64 root hash>\\n[<extension line>\\n ...]

and a signed note (https://c2sp.org/signed-note) is the body, a blank line, then one or more
signature lines ``— <key name> <base64(4-byte key id || Ed25519 signature)>\\n``. Verifier keys are
published as ``<name>+<hex key id>+<base64(0x01 || public key)>`` (the Go ``sumdb/note`` vkey).

Parsing is strict so that every note has exactly one accepted spelling; every failure raises
``CheckpointError``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from crypto import signing
from crypto.merkle import HASH_SIZE

ED25519_TYPE = b"\x01"  # signed-note signature type identifier for Ed25519
KEY_ID_SIZE = 4
MAX_TREE_SIZE = 2**64 - 1  # sizes are uint64 in every other checkpoint implementation
MAX_SIGNATURES = 100  # the spec asks to accept at least 16; bound the work a note can cause
MAX_NOTE_SIZE = 1 << 20
_SIG_PREFIX = "\u2014 "  # em dash, space
_SIZE_RE = re.compile(r"0|[1-9][0-9]{0,19}")  # [0-9], not \d: \d also matches non-ASCII digits


class CheckpointError(ValueError):
    """A note or checkpoint is malformed, unsigned by the expected key, or fails verification."""


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(text: str) -> bytes:
    """Strict standard padded base64: the only accepted spelling is the one we would write.

    Lenient decoders ignore the unused low bits of the last character, so a flipped bit there
    would decode to the same bytes; re-encoding and comparing rules that out.
    """
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise CheckpointError("malformed base64") from None
    if _b64encode(data) != text:
        raise CheckpointError("non-canonical base64")
    return data


def _has_control(text: str, allow_newline: bool) -> bool:
    return any(c < " " and not (allow_newline and c == "\n") for c in text)


def _check_name(name: object, what: str = "key name") -> str:
    """Key names: non-empty, no Unicode whitespace, no '+', no control characters."""
    if (not isinstance(name, str) or not name or "+" in name
            or any(c.isspace() for c in name) or _has_control(name, False)):
        raise CheckpointError(f"invalid {what}: {name!r}")
    return name


def key_id(name: str, public_key: bytes) -> bytes:
    """SHA-256(name || 0x0A || 0x01 || 32-byte public key)[:4], per the signed-note spec."""
    return hashlib.sha256(name.encode() + b"\n" + ED25519_TYPE + public_key).digest()[:KEY_ID_SIZE]


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: the log's ``origin``, its ``size`` and the RFC 6962 ``root_hash`` at that size.

    The origin follows the key-name rules (it doubles as the signing key's name). Extension lines
    must be non-empty single lines; the spec advises against them but allows them.
    """

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_name(self.origin, "origin")
        if type(self.size) is not int or not 0 <= self.size <= MAX_TREE_SIZE:
            raise CheckpointError(f"invalid tree size: {self.size!r}")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise CheckpointError(f"the root hash must be {HASH_SIZE} bytes")
        extensions = tuple(self.extensions)
        for line in extensions:
            if not isinstance(line, str) or not line or _has_control(line, False):
                raise CheckpointError(f"invalid extension line: {line!r}")
        object.__setattr__(self, "extensions", extensions)

    def to_body(self) -> str:
        lines = [self.origin, str(self.size), _b64encode(self.root_hash), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse_body(cls, body: str) -> Checkpoint:
        """Parse a body as written by ``to_body``; anything else raises ``CheckpointError``."""
        if not isinstance(body, str) or not body.endswith("\n") or _has_control(body, True):
            raise CheckpointError("a checkpoint body is text ending in a newline")
        lines = body[:-1].split("\n")
        if len(lines) < 3:
            raise CheckpointError("a checkpoint body has at least three lines")
        origin, size, root, *extensions = lines
        if not _SIZE_RE.fullmatch(size):
            raise CheckpointError(f"the tree size is not canonical decimal: {size!r}")
        root_hash = _b64decode(root)
        return cls(origin, int(size), root_hash, tuple(extensions))


class NoteVerifier:
    """An Ed25519 note verifier key: the key ``name`` and its public key. ``TYPE`` is the
    signature type byte its key id and vkey commit to (subclasses: other signature types)."""

    TYPE = ED25519_TYPE
    KEY_SIZE = signing.PUBLIC_KEY_SIZE
    ALGORITHM = "ed25519"  # the name docs/cryptography.md gives the signature algorithm

    def __init__(self, name: str, public_key) -> None:
        self.name = _check_name(name)
        self.public_key, raw = self._load_key(public_key)
        self.public_key_bytes = raw
        # SHA-256(name || 0x0A || type || public key)[:4], per the signed-note spec.
        self.key_id = hashlib.sha256(self.name.encode() + b"\n" + self.TYPE + raw).digest()[:KEY_ID_SIZE]

    @staticmethod
    def _load_key(public_key):
        """(key object, raw public key bytes); ``CheckpointError`` if it is not a key of this type."""
        raw = public_key if isinstance(public_key, bytes) else signing.public_key_bytes(public_key)
        try:
            return signing.load_public_key_bytes(raw), raw
        except signing.KeyFormatError as exc:
            raise CheckpointError(str(exc)) from None

    def check_signature(self, signature: bytes, message: bytes) -> None:
        """None if ``signature`` is this key's over ``message``; ``CheckpointError`` otherwise."""
        try:
            signing.verify(self.public_key, signature, message)
        except signing.SignatureError:
            raise CheckpointError("bad signature") from None

    @property
    def vkey(self) -> str:
        """``<name>+<8 hex digits of key id>+<base64(type || public key)>``."""
        return f"{self.name}+{self.key_id.hex()}+{_b64encode(self.TYPE + self.public_key_bytes)}"

    @classmethod
    def from_vkey(cls, vkey: str) -> NoteVerifier:
        """Parse a vkey; the key id in it must be the one the name and key hash to."""
        # Names and key ids hold no "+", but the base64 key may: split off two fields only.
        fields = vkey.split("+", 2) if isinstance(vkey, str) else []
        if len(fields) != 3:
            raise CheckpointError("a vkey is <name>+<key id>+<key>")
        name, hex_id, key = fields
        if not re.fullmatch(r"[0-9a-f]{8}", hex_id):
            raise CheckpointError("the vkey's key id is not 8 lowercase hex digits")
        raw = _b64decode(key)
        if len(raw) != len(cls.TYPE) + cls.KEY_SIZE or raw[:len(cls.TYPE)] != cls.TYPE:
            raise CheckpointError(f"the vkey is not a {cls.ALGORITHM} key of type 0x{cls.TYPE.hex()}")
        verifier = cls(name, raw[len(cls.TYPE):])
        if verifier.key_id.hex() != hex_id:
            raise CheckpointError("the vkey's key id does not match its name and key")
        return verifier

    def verify(self, note: str | bytes) -> str:
        """Return the note text (the body) if this key signed ``note``; else ``CheckpointError``.

        Per the spec, signatures by other keys are skipped; at least one signature must be this
        key's and every signature that claims to be (same name and key id) must verify.
        """
        body, signatures = _split_note(note)
        found = False
        for name, kid, sig in signatures:
            if name == self.name and kid == self.key_id:
                try:
                    self.check_signature(sig, body.encode())
                except CheckpointError:
                    raise CheckpointError(f"bad signature by {name}") from None
                found = True
        if not found:
            raise CheckpointError(f"the note is not signed by {self.name}")
        return body


def _split_note(note: str | bytes) -> tuple[str, list[tuple[str, bytes, bytes]]]:
    """Split a signed note into its text and (name, key id, signature) triples; check the form."""
    if not isinstance(note, (str, bytes)) or len(note) > MAX_NOTE_SIZE:
        raise CheckpointError("not a note, or too large")
    try:  # strict both ways: invalid UTF-8, or a str with lone surrogates, is not a note
        note = note.decode("utf-8") if isinstance(note, bytes) else note.encode("utf-8").decode()
    except UnicodeError:
        raise CheckpointError("a note is UTF-8 text") from None
    if _has_control(note, True):
        raise CheckpointError("a note has no control characters other than newline")
    split = note.rfind("\n\n")  # the text ends at the last blank line
    if split < 0:
        raise CheckpointError("a note has a blank line before its signatures")
    body, block = note[:split + 1], note[split + 2:]
    if not block.endswith("\n"):
        raise CheckpointError("a note ends with a newline-terminated signature line")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise CheckpointError("too many signatures")
    signatures = []
    for line in lines:
        if not line.startswith(_SIG_PREFIX):
            raise CheckpointError("a signature line starts with an em dash and a space")
        name, _, b64 = line[len(_SIG_PREFIX):].partition(" ")
        _check_name(name)
        raw = _b64decode(b64)
        if len(raw) <= KEY_ID_SIZE:
            raise CheckpointError("a signature is a key id and at least one byte")
        signatures.append((name, raw[:KEY_ID_SIZE], raw[KEY_ID_SIZE:]))
    return body, signatures


class NoteSigner:
    """Signs note texts with an Ed25519 key under a key ``name``."""

    def __init__(self, name: str, private_key: signing.SigningKey) -> None:
        self._key = private_key
        self.verifier = NoteVerifier(name, private_key.public_key())
        self.name = self.verifier.name
        self.key_id = self.verifier.key_id

    @property
    def vkey(self) -> str:
        return self.verifier.vkey

    def _sign_bytes(self, message: bytes) -> bytes:
        return signing.sign(self._key, message)

    def signature_line(self, body: str) -> str:
        """This key's signature line for the note text ``body`` (``— name base64\\n``)."""
        return f"{_SIG_PREFIX}{self.name} {_b64encode(self.key_id + self._sign_bytes(_note_text(body)))}\n"

    def sign(self, body: str) -> str:
        """The signed note: ``body``, a blank line, and this key's signature line.

        ``body`` must be non-empty text ending in a newline without control characters other
        than newline, so that the note splits back into exactly this body.
        """
        return sign_note(body, self)


def _note_text(body: str) -> bytes:
    if (not isinstance(body, str) or not body.endswith("\n")
            or _has_control(body, True)):
        raise CheckpointError("a note text is non-empty text ending in a newline")
    try:
        return body.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        raise CheckpointError("a note text is valid Unicode") from None


def sign_note(body: str, *signers) -> str:
    """The note ``body`` signed by each of ``signers`` in turn (one signature line each): the
    platform's Ed25519 key and, as an option, its SM2 key (``crypto.sm2_note``)."""
    _note_text(body)
    if not signers:
        raise CheckpointError("a note has at least one signature")
    return body + "\n" + "".join(s.signature_line(body) for s in signers)


def open_checkpoint(note: str | bytes, verifier: NoteVerifier, *, origin: str | None = None
                    ) -> Checkpoint:
    """Verify ``note`` with ``verifier`` and parse its body as a checkpoint.

    The checkpoint's origin must equal ``origin``, by default the verifier's key name (the
    spec's recommendation, and what ``NoteSigner`` users here do): a key trusted for one log
    must not vouch for another log's tree heads.
    """
    checkpoint = Checkpoint.parse_body(verifier.verify(note))
    expected = verifier.name if origin is None else origin
    if checkpoint.origin != expected:
        raise CheckpointError(f"checkpoint origin {checkpoint.origin!r} is not {expected!r}")
    return checkpoint
