"""What each envelope version fixes (docs/envelope.md): its name, stanza types, stanza body sizes,
roles, share set, scheme and limits. ``crypto.envelope_header`` reads headers by these profiles and
re-exports every name here.

- ``tender-envelope/v1``: ``hpke-p256`` stanzas, roles bidder and escrow, no share set;
- ``/v2``: v1 with the custodians' Shamir shares (``hpke-p256-share``, at most 10), bidder only;
- ``/v3``: v2 with replicated XOR sharing instead (``hpke-p256-rss``, at most 7, longer bodies,
  a larger header limit);
- ``/gm-v1``: the 国密 suite, v2's shape on SM2 stanzas (``sm2``, ``sm2-share``, Shamir, at most
  10), the share set optional.

Each version has exactly one way to back a bid up, and its limits are its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import replicated

FORMAT = "tender-envelope/v1"
FORMAT_V2 = "tender-envelope/v2"
FORMAT_V3 = "tender-envelope/v3"
FORMAT_GM = "tender-envelope/gm-v1"
VERSIONS = (FORMAT, FORMAT_V2, FORMAT_V3, FORMAT_GM)
# A tender's cipher suite and the envelope versions its bids may use (docs/envelope.md).
CIPHER_SUITES = {"intl": (FORMAT, FORMAT_V2, FORMAT_V3), "gm": (FORMAT_GM,)}
SUITE = "hpke-p256"  # DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-256-GCM
SHARE_SUITE = "hpke-p256-share"  # the same HPKE suite, wrapping one Shamir share of the file key
RSS_SUITE = "hpke-p256-rss"  # the same HPKE suite, wrapping one custodian's replicated XOR parts
GM_SUITE = "sm2"  # SM2 (C1C3C2) of the file key and SM3 of its context
GM_SHARE_SUITE = "sm2-share"  # the same, wrapping one Shamir share
ROLES = ("bidder", "escrow")
FILE_KEY_SIZE = 32
NONCE_SIZE = 16
MAX_RECIPIENTS = 8  # recipient stanzas, in every version
MIN_THRESHOLD = 2  # a share set that one custodian alone could open is no split
MAX_CUSTODIANS = 10  # share stanzas in a v2 or gm-v1 header
MAX_CUSTODIANS_V3 = replicated.MAX_COUNT  # in a v3 header: the share's size grows as C(n-1, k-1)
MAX_ID_LENGTH = 64
MAX_HEADER_SIZE = 4096  # v1 and v2
MAX_HEADER_SIZE_V3 = 16384  # the largest valid v3 header is 9,029 bytes (docs/envelope.md)
MAX_HEADER_SIZE_GM = 8192  # the largest valid gm-v1 header is 4,949 bytes: SM2 bodies are longer
STANZA_BODY_SIZE = 65 + 48  # enc || HPKE ciphertext of 32 bytes (a file key, or a share's y)
GM_STANZA_BODY_SIZE = 65 + 32 + 64  # SM2 C1 || C3 || C2 of (secret || SM3(context)), 32 + 32 bytes
_B64_LINE = 64


def body_line_lengths(size: int) -> tuple[int, ...]:
    """The lines of a ``size``-byte stanza body: its unpadded base64 cut at 64 columns, the last
    line shorter (never empty: when the base64 fills whole lines, the last is 64 characters)."""
    chars = (4 * size + 2) // 3
    return (_B64_LINE,) * (chars // _B64_LINE) + ((chars % _B64_LINE,) if chars % _B64_LINE else ())


@dataclass(frozen=True)
class Profile:
    """What one envelope version fixes: stanza type names, the recipient stanza's body size, roles,
    whether the custodians' share set is required, allowed or absent, its scheme and its limits."""

    version: str
    suite: str  # the recipient stanza type
    share_suite: str | None  # the share stanza type, None if the version has none
    body_size: int  # a recipient stanza's body
    roles: tuple[str, ...]
    shares: str  # "required" | "optional" | "none"
    cipher_suite: str  # "intl" | "gm"
    share_scheme: str | None = None  # "shamir" | "replicated"
    max_shares: int = 0
    max_header_size: int = MAX_HEADER_SIZE

    @property
    def is_gm(self) -> bool:
        return self.cipher_suite == "gm"

    @property
    def body_lines(self) -> tuple[int, ...]:
        return body_line_lengths(self.body_size)

    def share_body_size(self, threshold: int, count: int) -> int:
        """A share stanza's body in bytes: the wrap of a 32-byte Shamir share, or in v3 ``enc`` (65),
        the C(n-1, k-1) x 32-byte replicated share and the AEAD tag (16)."""
        if self.share_scheme == "replicated":
            return 65 + replicated.share_size(threshold, count) + 16
        return self.body_size


PROFILES = {
    FORMAT: Profile(FORMAT, SUITE, None, STANZA_BODY_SIZE, ROLES, "none", "intl"),
    FORMAT_V2: Profile(FORMAT_V2, SUITE, SHARE_SUITE, STANZA_BODY_SIZE, ("bidder",), "required", "intl",
                       "shamir", MAX_CUSTODIANS),
    FORMAT_V3: Profile(FORMAT_V3, SUITE, RSS_SUITE, STANZA_BODY_SIZE, ("bidder",), "required", "intl",
                       "replicated", MAX_CUSTODIANS_V3, MAX_HEADER_SIZE_V3),
    FORMAT_GM: Profile(FORMAT_GM, GM_SUITE, GM_SHARE_SUITE, GM_STANZA_BODY_SIZE, ("bidder",), "optional",
                       "gm", "shamir", MAX_CUSTODIANS, MAX_HEADER_SIZE_GM),
}
# Derived views, kept for callers that name one aspect.
SHARE_SUITES = {v: p.share_suite for v, p in PROFILES.items() if p.share_suite}
ROLES_BY_VERSION = {v: p.roles for v, p in PROFILES.items()}
MAX_SHARES_BY_VERSION = {v: p.max_shares for v, p in PROFILES.items() if p.share_suite}


def share_body_size(version: str, threshold: int, count: int) -> int:
    """A share stanza's body in bytes in ``version`` (``Profile.share_body_size``)."""
    return PROFILES[version].share_body_size(threshold, count)
