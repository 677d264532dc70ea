"""What the browser tests share: ids, keys in the encodings the page takes, and base64 transport.

Bytes cross between Python and the page as the format's own unpadded base64
(``crypto.keys.b64encode`` here, ``kb.b64.encode``/``decode`` in the page).
"""

from __future__ import annotations

from crypto import keys
from crypto.envelope import Binding, Recipient, seal_bytes

IDS = {"tender_id": "ZB-2026-0107", "lot_id": "3", "bidder_id": "91320100MA1ABCDE0X"}
BINDING = Binding(IDS["tender_id"], IDS["lot_id"], IDS["bidder_id"])
JS_IDS = {"tenderId": IDS["tender_id"], "lotId": IDS["lot_id"], "bidderId": IDS["bidder_id"]}

b64 = keys.b64encode
unb64 = keys.b64decode


def pkcs8(private_key) -> str:
    """The private key as the page imports it (PKCS#8 DER, base64)."""
    return b64(keys.private_key_to_pkcs8(private_key))


def scalar_pkcs8(scalar_hex: str) -> str:
    return pkcs8(keys.private_key_from_scalar(bytes.fromhex(scalar_hex)))


def public(private_key) -> str:
    """The 65-byte uncompressed public point, base64."""
    return b64(keys.public_key_to_bytes(private_key.public_key()))


def sealed_to(public_key, plaintext: bytes, chunk_size: int = 64) -> bytes:
    """An envelope sealed by Python to one bidder key."""
    return seal_bytes(plaintext, **IDS, chunk_size=chunk_size, recipients=[Recipient("bidder", public_key)])
