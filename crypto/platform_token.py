"""The platform's Ed25519 signing key (checkpoints, receipts of intl tenders, archive manifests,
backups, notices) on a PKCS#11 token — an HSM (服务器密码机) in production, SoftHSM2 in the tests —
through ``python-pkcs11``: the key is generated on the token and signs there (``CKM_EDDSA``); only
its public key leaves it.

The key is named by an RFC 7512 PKCS#11 URI, of which this subset is read::

    pkcs11:token=<token label>;object=<key label>?module-path=/usr/lib/softhsm/libsofthsm2.so

(percent-encoding allowed in the values; other attributes refused, so a typo is not ignored). The
user PIN is never in the URI: the caller passes it (the platform reads it from the environment).
Setting up raises ``token.TokenError`` with its ``kind`` (``wrong_pin``, ``no_token``, ``no_key``,
…); a signature that cannot be made raises ``signing.SigningUnavailable`` (``TokenSigningKey``).

SoftHSM2 (and most HSMs through standard PKCS#11) has no SM2 mechanism: the platform's SM2 key
stays a file (docs/cryptography.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from urllib.parse import unquote

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass

from .signing import SigningUnavailable
from .token import _LOCK, TokenError, TokenRef, _session, reset

# RFC 8410 id-Ed25519, as the DER EC_PARAMS of a PKCS#11 3.0 Edwards key (SoftHSM 2.6 takes it).
ED25519_PARAMS = bytes.fromhex("06032b6570")
_PATH_ATTRS = {"token", "object"}
_QUERY_ATTRS = {"module-path"}


def parse_uri(uri: str, pin: str) -> TokenRef:
    """The ``TokenRef`` a ``pkcs11:`` URI names, with ``pin``. ``ValueError`` for anything else."""
    if not isinstance(uri, str) or not uri.startswith("pkcs11:"):
        raise ValueError("a PKCS#11 URI starts with 'pkcs11:'")
    path, _, query = uri[len("pkcs11:"):].partition("?")
    fields: dict[str, str] = {}
    for part, allowed in ((path, _PATH_ATTRS), (query, _QUERY_ATTRS)):
        for item in filter(None, part.split(";" if part is path else "&")):
            name, sep, value = item.partition("=")
            if not sep or name not in allowed or name in fields or not value:
                raise ValueError(f"unsupported or repeated PKCS#11 URI attribute {name!r}")
            fields[name] = unquote(value)
    missing = (_PATH_ATTRS | _QUERY_ATTRS) - set(fields)
    if missing:
        raise ValueError(f"the PKCS#11 URI lacks {sorted(missing)}")
    if not pin:
        raise ValueError("the token's user PIN is required")
    return TokenRef(fields["module-path"], fields["token"], fields["object"], pin)


def _public_bytes(public) -> bytes:
    from Crypto.Util.asn1 import DerOctetString

    raw = bytes(public[Attribute.EC_POINT])
    if len(raw) != 32:  # DER OCTET STRING around the 32-byte key (PKCS#11 3.0)
        raw = DerOctetString().decode(raw, strict=True).payload
    return raw


def generate_ed25519(ref: TokenRef) -> Ed25519PublicKey:
    """A new Ed25519 key pair made on the token (private half sensitive, never extractable)."""
    with _session(ref, rw=True) as session:
        params = session.create_domain_parameters(KeyType.EC_EDWARDS, {Attribute.EC_PARAMS: ED25519_PARAMS},
                                                  local=True)
        if _objects(session, ObjectClass.PRIVATE_KEY, ref.key_label):
            raise TokenError("exists", f"the token already holds a key labelled {ref.key_label!r}")
        public, _ = params.generate_keypair(
            mechanism=Mechanism.EC_EDWARDS_KEY_PAIR_GEN, store=True, label=ref.key_label, id=os.urandom(16),
            private_template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False, Attribute.SIGN: True},
            public_template={Attribute.VERIFY: True})
        return Ed25519PublicKey.from_public_bytes(_public_bytes(public))


def _objects(session, object_class, label: str) -> list:
    return list(session.get_objects({Attribute.CLASS: object_class, Attribute.KEY_TYPE: KeyType.EC_EDWARDS,
                                     Attribute.LABEL: label}))


def _one(session, object_class, label: str):
    """The key of this class and label. SoftHSM 2.6 may list one object twice in a process after
    another process touched the token directory; handles of the same key (same ``CKA_ID``) count
    once, two different keys under one label are an error."""
    found = _objects(session, object_class, label)
    ids = {bytes(o[Attribute.ID]) for o in found}
    if not found:
        raise TokenError("no_key", f"the token holds no key labelled {label!r}")
    if len(ids) != 1:
        raise TokenError("failed", f"the token holds more than one key labelled {label!r}")
    return found[0]


# Kinds after which a reset may help: the token went away, or came back (or another one came)
# unseen by this process. Not a wrong or locked PIN: trying it again would count against it.
_TRANSIENT = {"failed", "no_token"}
_TRANSIENT_SIGNING = _TRANSIENT | {"no_key", "wrong_key"}  # the key was there when the object was made


class TokenSigningKey:
    """The platform's Ed25519 key on a token, usable wherever ``crypto.signing`` takes a signing
    key: ``public_key()`` and ``sign(message)`` (RFC 8032 Ed25519, computed by the token).

    The public key read at construction is pinned: every signature is verified with it before it
    is returned, so a token replaced by another one holding a different key under the same labels
    never signs in this key's name. Each signature opens a session; when that fails the way a
    pulled-out token fails, the module is reset (``token.reset``) and the signature tried once
    more, so a token put back works again in the same process. If the retry fails too — or the
    token's signature is not the pinned key's — ``signing.SigningUnavailable``: nothing was signed,
    a later call tries again. ``on_failure(outcome)``, when given, is told each failed first
    attempt: ``"recovered"`` (the retry signed) or ``"unavailable"``. Construction reads the public
    key the same way (one reset and retry), and raises ``TokenError`` if it cannot."""

    def __init__(self, ref: TokenRef, *, on_failure: Callable[[str], None] | None = None):
        self.ref = ref
        self._on_failure = on_failure
        with _LOCK:
            try:
                self._public = self._read_public()
            except TokenError as first:
                if first.kind not in _TRANSIENT:
                    raise
                reset(ref.module)  # a token inserted after this process last looked
                self._public = self._read_public()

    def _read_public(self) -> Ed25519PublicKey:
        with _session(self.ref) as session:
            public = _one(session, ObjectClass.PUBLIC_KEY, self.ref.key_label)
            return Ed25519PublicKey.from_public_bytes(_public_bytes(public))

    def public_key(self) -> Ed25519PublicKey:
        return self._public

    def _sign_once(self, message: bytes) -> bytes:
        with _session(self.ref) as session:
            key = _one(session, ObjectClass.PRIVATE_KEY, self.ref.key_label)
            signature = bytes(key.sign(message, mechanism=Mechanism.EDDSA))
        try:
            self._public.verify(signature, message)
        except InvalidSignature:
            raise TokenError("wrong_key", f"the token {self.ref.token_label!r} signs with a key that is "
                             "not the platform's (another token under the same labels?)") from None
        return signature

    def sign(self, message: bytes) -> bytes:
        message = bytes(message)
        with _LOCK:  # the attempt, the reset and the retry together: no other thread resets between
            try:
                return self._sign_once(message)
            except TokenError as first:
                if first.kind not in _TRANSIENT_SIGNING:
                    self._failed("unavailable")
                    raise SigningUnavailable(str(first)) from None
            try:
                reset(self.ref.module)
                signature = self._sign_once(message)
            except TokenError as again:
                self._failed("unavailable")
                raise SigningUnavailable(f"the platform's signing token cannot sign: {again}") from None
        self._failed("recovered")
        return signature

    def _failed(self, outcome: str) -> None:
        if self._on_failure is not None:
            self._on_failure(outcome)
