"""``sealbid custodian``: a backup-decryption custodian's side (docs/opening.md, "Custodians").

- ``keygen``: make the custodian's own P-256 key pair (SM2 with ``--suite gm``, for gm tenders) in a
  password-protected key file, on this machine; ``--register`` sends the platform the public key only. The private key never leaves.
- ``recoveries``: the bids whose backup window is open and that this custodian holds a share of.
- ``release``: fetch one bid's envelope header, check that it is the bid the recovery names, unwrap
  this custodian's share locally, and release that share (of one bid's file key split: 32 bytes in
  a v2 envelope, C(n-1, k-1) x 32 in v3; fewer than the threshold of them reveal nothing).
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

from crypto import envelope, escrow_shares, gm, gm_keys, keys

from . import errors
from .prompts import load_private_key, make_client, write_new_key
from .errors import CliError


def cmd_keygen(args) -> None:
    key = write_new_key(args)
    print(f"custodian key id {escrow_shares.any_key_id(key.public_key())} written to {args.out}")
    if args.register:
        _register(make_client(args), key.public_key())


def _register(client, public_key) -> None:
    if isinstance(public_key, gm.SM2PublicKey):
        body = {"public_key": keys.b64encode(public_key.point), "suite": "gm"}
    else:
        body = {"public_key": keys.b64encode(keys.public_key_to_bytes(public_key)), "suite": "intl"}
    result = client.json("POST", "/custodians/me", body=body)
    print(f"registered custodian key {result['key_id']} (user {result['user_id']}, suite {body['suite']})")


def cmd_register(args) -> None:
    _, public_key, _suite = gm_keys.read_any_key_file_public(Path(args.key).read_bytes())
    _register(make_client(args), public_key)


def cmd_recoveries(args) -> None:
    items = make_client(args).json("GET", "/custodians/me/recoveries")
    if not items:
        print("no bid is in its backup window for you")
    for r in items:
        print(f"lot {r['lot']} recovery {r['id']}: submission {r['submission']}, reason {r['reason']}, "
              f"{len(r['released'])}/{r['threshold']} released")


def unwrap_for_release(context: dict, private_key) -> tuple[int, str]:
    """Check the fetched header is the recovery's bid and unwrap our share: ``(index, base64)``."""
    try:
        header = envelope.read_header(io.BytesIO(keys.b64decode(context["header"])))
    except (KeyError, ValueError, envelope.InvalidEnvelope) as exc:
        raise CliError(f"the platform sent no valid envelope header: {exc}", errors.REFUSED) from None
    b = header.binding
    if ((b.tender_id, b.lot_id, b.bidder_id, header.commitment_b64)
            != (context.get("tender"), context.get("lot"), context.get("bidder"), context.get("commitment"))):
        raise CliError("the header is not the bid this recovery names: nothing released", errors.REFUSED)
    try:
        share = escrow_shares.unwrap_share(header, private_key)
    except envelope.InvalidEnvelope:
        raise CliError("this key holds no share of this bid (another key, or the stanza was moved "
                       "from another envelope)", errors.CERTIFICATE) from None
    if share.index != context.get("index"):
        raise CliError("the platform names another share index for you: nothing released", errors.REFUSED)
    return share.index, keys.b64encode(bytes(share.value))


def cmd_release(args) -> None:
    client = make_client(args)
    base = f"/lots/{args.lot}/opening/backup-recoveries/{args.recovery}"
    context = client.json("GET", f"{base}/share")
    print(f"recovery {context['id']}: bid {context['bidder']} on {context['tender']} lot {context['lot']}, "
          f"reason {context['reason']}")
    index, share = unwrap_for_release(context, load_private_key(args))
    result = client.json("POST", f"{base}/shares", body={"index": index, "share": share})
    status = result.get("status")
    print(f"share {index} released; {len(result.get('released', []))}/{result.get('threshold')} "
          f"released, recovery {status}" + (f" ({result['problem']})" if result.get("problem") else ""))


def add_parser(sub, with_password) -> None:
    cp = sub.add_parser("custodian", help="backup-decryption custodian: own key, release shares")
    csub = cp.add_subparsers(dest="custodian_command", required=True)
    sp = csub.add_parser("keygen", help="make your custodian key pair here (only the public key is sent)")
    sp.add_argument("--out", default="custodian-key.json")
    sp.add_argument("--force", action="store_true")
    sp.add_argument("--register", action="store_true", help="register the public key with the platform")
    sp.add_argument("--suite", choices=("intl", "gm"), default="intl",
                    help="intl: a P-256 key; gm: an SM2 key, for the custodians of gm (国密) tenders")
    sp.add_argument("--iterations", type=int, default=keys.DEFAULT_ITERATIONS, help=argparse.SUPPRESS)
    with_password(sp)
    sp.set_defaults(func=cmd_keygen)
    sp = csub.add_parser("register", help="register the public key of a custodian key file")
    sp.add_argument("--key", required=True)
    sp.set_defaults(func=cmd_register)
    sp = csub.add_parser("recoveries", help="bids in their backup window that you hold a share of")
    sp.set_defaults(func=cmd_recoveries)
    sp = csub.add_parser("release", help="unwrap your share of one bid here and release it")
    sp.add_argument("--lot", type=int, required=True)
    sp.add_argument("--recovery", required=True)
    sp.add_argument("--key", required=True)
    with_password(sp)
    sp.set_defaults(func=cmd_release)
