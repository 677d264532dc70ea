"""``sealbid``: keygen, csr, seal, submit, status, withdraw, platform-keys, verify-receipt, open,
custodian (keygen, register, recoveries, release: ``sealbid.custodian``).

Every failure prints one line ``sealbid: error: ...`` and exits with a code from
``sealbid.errors`` (docs/sealbid.md has the table).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import sys
from pathlib import Path

from crypto import ca, envelope, escrow_shares, gm, gm_keys, keys, sm2_x509, token
from crypto.receipt import ALGORITHMS, ReceiptError, verify_receipt

from . import bidpackage, custodian, errors, upload
from .client import NETWORK_ERRORS, Client
from .errors import CliError
from .prompts import load_private_key as _private_key, make_client as _client
from .prompts import token_error, token_ref, write_new_key


def _print(value) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2) if not isinstance(value, str) else value)


def cmd_keygen(args) -> None:
    ref = token_ref(args)
    if ref is not None:  # on the token: the private key is made there and never leaves it
        public = token.generate_key(ref)
        print(f"key id {keys.key_id(public)} generated on token {ref.token_label!r} as {ref.key_label!r}")
        return
    key = write_new_key(args)
    key_id = key.key_id if isinstance(key, gm.SM2PrivateKey) else keys.key_id(key.public_key())
    print(f"key id {key_id} written to {args.out}")


def cmd_csr(args) -> None:
    key = _private_key(args)
    make_csr = (sm2_x509.make_csr if isinstance(key, gm.SM2PrivateKey)
                else token.make_csr if isinstance(key, token.TokenPrivateKey) else ca.make_csr)
    pem = make_csr(key, organisation=args.organisation, credit_code=args.credit_code.strip().upper())
    if args.out:
        Path(args.out).write_bytes(pem)
    if args.submit:
        cert = _client(args).json("POST", "/certificates", body={"csr_pem": pem.decode()})
        print(f"certificate request {cert['id']} sent ({cert['status']}); a host or an administrator "
              "approves it")
    elif not args.out:
        sys.stdout.write(pem.decode())


def _current_certificate(client: Client, suite: str):
    """The organisation's current certificate of ``suite`` (the tender's cipher suite): an
    organisation may hold one of each suite at once, and a bid is sealed to the tender's."""
    certs = [c for c in client.json("GET", f"/certificates/current?suite={suite}") if c.get("suite") == suite]
    if not certs:
        raise CliError(f"your organisation has no current certificate of the {suite!r} suite (this tender's): "
                       + ("run `sealbid keygen --suite gm`, then `sealbid csr --submit`"
                          if suite == "gm" else "run `sealbid csr --submit`") + ", and ask for approval",
                       errors.CERTIFICATE)
    pem = certs[0]["certificate_pem"]
    return sm2_x509.load_certificate(pem) if suite == "gm" else ca.load_certificate(pem)


def _backup(client: Client, lot_id: int, lot: dict, recipients: list) -> tuple[list, int | None]:
    """The tender's backup decryption: custodians to split the file key among (v3, or v2 for more
    than 7 custodians: ``escrow_shares.version_for``), or for a
    set-up made before v2 its dealt escrow key appended to ``recipients`` (v1)."""
    if not lot["escrow_required"]:
        return [], None
    escrow = client.json("GET", f"/lots/{lot_id}/escrow")
    if escrow.get("scheme") == "dealer":
        recipients.append(envelope.Recipient("escrow", keys.b64decode(escrow["public_key"], 65)))
        return [], None
    gm_suite = lot.get("cipher_suite", "intl") == "gm"  # gm-v1: the custodians' SM2 keys
    try:
        custodians = [escrow_shares.Custodian(c["index"], gm.SM2PublicKey(keys.b64decode(c["public_key"], 65))
                                              if gm_suite else keys.b64decode(c["public_key"], 65))
                      for c in escrow["custodians"]]
        if [c.key_id for c in custodians] != [c["key_id"] for c in escrow["custodians"]]:
            raise ValueError("a custodian's key id is not its key's")
        escrow_shares.check_share_set(custodians, escrow["threshold"],  # in version_for's version
                                      envelope.FORMAT_GM if gm_suite else None)
    except (KeyError, TypeError, ValueError) as exc:
        raise CliError(f"the tender's custodians are not usable: {exc}", errors.REFUSED) from None
    return custodians, escrow["threshold"]


def _version() -> str:
    from .client import tool_version

    return tool_version()


def cmd_seal(args) -> None:
    client = _client(args)
    lot = client.json("GET", f"/lots/{args.lot}")
    ref = token_ref(args)
    if ref is not None:
        public_key = token.public_key(ref)
        key_id, key_suite = keys.key_id(public_key), "intl"
    elif args.key:
        key_id, public_key, key_suite = gm_keys.read_any_key_file_public(Path(args.key).read_bytes())
    else:
        raise CliError("pass --key (a key file) or --pkcs11-module (a key on a token)", errors.USAGE)
    suite = lot.get("cipher_suite", "intl")
    if key_suite != suite:
        raise CliError(f"this tender's cipher suite is {suite!r} but the key file is a {key_suite!r} key: "
                       + ("make an SM2 key (`sealbid keygen --suite gm`) and have it certified"
                          if suite == "gm" else "use your P-256 key"), errors.CERTIFICATE)
    cert = _current_certificate(client, suite)
    if cert.key_id != key_id:
        raise CliError(f"the key file holds key {key_id}, but your current {suite} certificate is for "
                       f"{cert.key_id}: use that key, or request a certificate for this one",
                       errors.CERTIFICATE)
    recipients = [envelope.Recipient("bidder", public_key)]
    custodians, threshold = _backup(client, args.lot, lot, recipients)
    if args.custodian_key_ids is not None:
        pinned = [k.strip() for k in args.custodian_key_ids.split(",") if k.strip()]
        if pinned != [c.key_id for c in custodians]:
            raise CliError("the platform names other custodians' keys than --custodian-key-ids: "
                           f"{[c.key_id for c in custodians]}; nothing sealed", errors.REFUSED)
    given = {}
    for item in args.field:
        name, sep, value = item.partition("=")
        if not sep:
            raise CliError(f"--field takes key=value, got {item!r}", errors.USAGE)
        given[name.strip()] = value
    fields = bidpackage.announced_values(lot["announced_fields"], given)
    documents = bidpackage.collect_documents(args.documents)
    sealer = bidpackage.sealer_info(tender=lot["project_code"], lot=lot["code"], version=_version())
    manifest = bidpackage.manifest(tender=lot["project_code"], lot=lot["code"], bidder=cert.credit_code,
                                   fields=fields, documents=documents, sealer=sealer)
    out = Path(args.out)
    result = bidpackage.seal_package(out, manifest_bytes=manifest, documents=documents,
                                     tender=lot["project_code"], lot=lot["code"],
                                     bidder=cert.credit_code, recipients=recipients,
                                     custodians=custodians, threshold=threshold, suite=suite)
    if result.envelope_size > lot["max_bid_bytes"]:
        print(f"warning: {result.envelope_size} bytes is over this tender's limit of "
              f"{lot['max_bid_bytes']}", file=sys.stderr)
    print(f"sealed {len(documents)} document(s) into {out} ({result.envelope_size} bytes); "
          f"commitment {result.header.commitment_b64}")


def cmd_submit(args) -> None:
    client = _client(args)
    path = Path(args.envelope)
    result = upload.submit(client, args.lot, path, retries=args.retries, backoff=args.backoff,
                           max_backoff=args.max_backoff,
                           chunk_size=args.chunk_size, progress=not args.quiet)
    receipt = result["receipt"]
    rpath = upload.receipt_path(path)
    rpath.write_text(json.dumps(receipt, ensure_ascii=False, indent=2))
    try:
        keys_doc = client.json("GET", "/platform/keys", auth=False)
        with open(path, "rb") as f:
            verify_receipt(receipt, keys_doc["vkey"], sm2_vkey=keys_doc.get("sm2_vkey"), envelope=f)
        checked = "verified"
    except (ReceiptError, CliError) + NETWORK_ERRORS as exc:
        raise CliError(f"the receipt saved in {rpath} does not verify: {exc}", errors.RECEIPT_INVALID)
    print(f"submitted: {result['id']} at {result['received_at']}; receipt {checked} and saved to {rpath}")


def cmd_status(args) -> None:
    client = _client(args)
    try:
        bid = client.json("GET", f"/lots/{args.lot}/bid")
    except CliError as exc:
        if exc.code != "not_found":
            raise
        print("no current bid on this lot")
        return
    bid.pop("receipt", None)
    _print(bid)


def cmd_withdraw(args) -> None:
    bid = _client(args).json("POST", f"/lots/{args.lot}/bid/withdraw")
    print(f"withdrawn: {bid['id']} at {bid['withdrawn_at']}")


def cmd_platform_keys(args) -> None:
    keys_doc = _client(args).json("GET", "/platform/keys", auth=False)
    if args.out:
        Path(args.out).write_text(json.dumps(keys_doc, indent=2))
        print(f"platform keys saved to {args.out}")
    else:
        _print(keys_doc)


def cmd_verify_receipt(args) -> None:
    vkey, sm2_vkey = args.vkey, args.sm2_vkey
    if args.vkey_file:
        text = Path(args.vkey_file).read_text()
        if text.lstrip().startswith("{"):  # the JSON `sealbid platform-keys --out` writes
            doc = json.loads(text)
            vkey, sm2_vkey = doc["vkey"], sm2_vkey or doc.get("sm2_vkey")
        else:
            vkey = text.strip()
    if not vkey:
        raise CliError("pass the platform's key: --vkey or --vkey-file (from `sealbid platform-keys`)",
                       errors.USAGE)
    document = Path(args.receipt).read_text(encoding="utf-8")
    try:
        if args.envelope:
            with open(args.envelope, "rb") as f:
                body = verify_receipt(document, vkey, sm2_vkey=sm2_vkey, envelope=f)
        else:
            body = verify_receipt(document, vkey, sm2_vkey=sm2_vkey)
    except ReceiptError as exc:
        raise CliError(f"the receipt does not verify: {exc}", errors.RECEIPT_INVALID) from None
    print(f"receipt OK: {body['tender']} lot {body['lot']}, {body['bidder']['name']} "
          f"({body['bidder']['credit_code']}), envelope sha256 {body['envelope']['sha256']}, "
          f"received {body['received_at']}, audit entry {body['audit_index']}, "
          f"signed {ALGORITHMS[body['format']]}")


def cmd_open(args) -> None:
    client = _client(args)
    if args.envelope:
        with open(args.envelope, "rb") as f:
            header_bytes = envelope.read_header(f).raw
    else:
        header_bytes = client.request("GET", f"/lots/{args.lot}/bid/header")[2]
    try:
        header = envelope.read_header(io.BytesIO(header_bytes))
    except envelope.InvalidEnvelope as exc:
        raise CliError(f"not an envelope header: {exc}", errors.REFUSED) from None
    key = _private_key(args)
    try:
        file_key = envelope.unwrap_file_key(header, key, role="bidder")
    except envelope.InvalidEnvelope:
        raise CliError("this key does not open the envelope (another key, or a damaged envelope)",
                       errors.CERTIFICATE) from None
    body = {"file_key": base64.b64encode(file_key).decode(), "commitment": header.commitment_b64}
    try:
        result = client.json("POST", f"/lots/{args.lot}/decryption", body=body)
    except CliError as exc:
        if getattr(exc, "status", None) == 404:
            raise CliError("the platform does not take key releases for this lot now (no opening "
                           "in progress, or this server has no opening hall)", errors.NOT_AVAILABLE) from None
        raise
    print("file key released" + (f": {json.dumps(result, ensure_ascii=False)}" if result else ""))


def cmd_key_check(args) -> None:
    """Before the deadline: open a test envelope sealed to the current certificate with the key
    that will be used at the opening, and tell the platform (docs/sealbid.md)."""
    client = _client(args)
    check = client.json("POST", f"/lots/{args.lot}/key-checks")
    try:
        header = envelope.read_header(io.BytesIO(base64.b64decode(check["envelope"])))
    except (envelope.InvalidEnvelope, ValueError, KeyError) as exc:
        raise CliError(f"the platform's test envelope is not readable: {exc}", errors.REFUSED) from None
    key = _private_key(args)
    try:
        file_key = envelope.unwrap_file_key(header, key, role="bidder")
    except (envelope.InvalidEnvelope, ValueError):
        raise CliError(f"this key does NOT open an envelope sealed to your current certificate of this tender's "
                       f"cipher suite (key "
                       f"{check['key_id']}): bring that certificate's key to the opening, or renew "
                       "and seal again", errors.CERTIFICATE) from None
    result = client.json("POST", f"/key-checks/{check['id']}/answer",
                         body={"file_key": base64.b64encode(file_key).decode()})
    if result["status"] != "passed":
        raise CliError("the platform did not accept the answer", errors.CERTIFICATE)
    print("key check passed: your key opens envelopes sealed to your current certificate of this tender's "
          f"cipher suite ({result['key_id']})")
    for bid in result["bids_sealed_to_other_keys"]:
        print(f"warning: your current bid {bid['submission']} is sealed to another key ({bid['key_id']}): "
              "the opening needs that key, or seal and submit again before the deadline", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sealbid", description="Seal, submit and open bids (不见面开标).")
    p.add_argument("--server", default=os.environ.get("SEALBID_SERVER", ""))
    p.add_argument("--token", default=os.environ.get("SEALBID_TOKEN", ""))
    sub = p.add_subparsers(dest="command", required=True)

    def with_password(sp):
        sp.add_argument("--password-file", help="read the key file password from this file")

    def with_token(sp):
        g = sp.add_argument_group("a key on a PKCS#11 token (instead of --key)")
        g.add_argument("--pkcs11-module", help="the token's PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so")
        g.add_argument("--token-label")
        g.add_argument("--key-label")
        g.add_argument("--pin-file", help="read the token's user PIN from this file (default: ask)")

    sp = sub.add_parser("keygen", help="make a password-protected key file (P-256, or SM2 with --suite gm)")
    sp.add_argument("--out", default="bidder-key.json")
    sp.add_argument("--suite", choices=("intl", "gm"), default="intl",
                    help="intl: P-256 (tender-key/v1); gm: SM2 for 国密 tenders (tender-key/sm2-v1)")
    sp.add_argument("--force", action="store_true")
    sp.add_argument("--iterations", type=int, default=keys.DEFAULT_ITERATIONS, help=argparse.SUPPRESS)
    with_password(sp)
    with_token(sp)
    sp.set_defaults(func=cmd_keygen)

    sp = sub.add_parser("csr", help="make a certificate request for your key (and --submit it)")
    sp.add_argument("--key")
    with_token(sp)
    sp.add_argument("--organisation", required=True)
    sp.add_argument("--credit-code", required=True, help="统一社会信用代码")
    sp.add_argument("--out")
    sp.add_argument("--submit", action="store_true")
    with_password(sp)
    sp.set_defaults(func=cmd_csr)

    sp = sub.add_parser("seal", help="seal documents and announced fields into an envelope")
    sp.add_argument("--lot", type=int, required=True)
    sp.add_argument("--key", help="your key file (only its public key is used)")
    with_token(sp)
    sp.add_argument("--field", action="append", default=[], help="key=value, e.g. price=1234567.89")
    sp.add_argument("--out", required=True)
    sp.add_argument("--custodian-key-ids", help="the custodians' key ids the tender documents publish, "
                    "comma-separated in index order: refuse to seal to any others")
    sp.add_argument("documents", nargs="+")
    sp.set_defaults(func=cmd_seal)

    sp = sub.add_parser("submit", help="upload an envelope (resumable) and save the receipt")
    sp.add_argument("--lot", type=int, required=True)
    sp.add_argument("--retries", type=int, default=8)
    sp.add_argument("--backoff", type=float, default=1.0)
    sp.add_argument("--max-backoff", type=float, default=60.0,
                    help="the longest wait between retries (seconds); near a deadline, keep it short")
    sp.add_argument("--chunk-size", type=int, default=8 << 20)
    sp.add_argument("--quiet", action="store_true")
    sp.add_argument("envelope")
    sp.set_defaults(func=cmd_submit)

    for name, func, text in (("status", cmd_status, "your current bid on a lot"),
                             ("withdraw", cmd_withdraw, "withdraw your bid (before the deadline)")):
        sp = sub.add_parser(name, help=text)
        sp.add_argument("--lot", type=int, required=True)
        sp.set_defaults(func=func)

    sp = sub.add_parser("platform-keys", help="fetch the platform's public keys (save them once)")
    sp.add_argument("--out")
    sp.set_defaults(func=cmd_platform_keys)

    sp = sub.add_parser("verify-receipt", help="check a receipt offline")
    sp.add_argument("receipt")
    sp.add_argument("--vkey")
    sp.add_argument("--vkey-file")
    sp.add_argument("--sm2-vkey", help="the platform's SM2 key (receipts of gm tenders); in --vkey-file's JSON too")
    sp.add_argument("--envelope", help="also check that this envelope is the one receipted")
    sp.set_defaults(func=cmd_verify_receipt)

    sp = sub.add_parser("key-check", help="before the deadline: check that your key opens what is sealed "
                        "to your current certificate")
    sp.add_argument("--lot", type=int, required=True)
    sp.add_argument("--key")
    with_password(sp)
    with_token(sp)
    sp.set_defaults(func=cmd_key_check)

    sp = sub.add_parser("open", help="release your file key at the opening")
    sp.add_argument("--lot", type=int, required=True)
    sp.add_argument("--key")
    with_token(sp)
    sp.add_argument("--envelope", help="your envelope (default: fetch its header from the server)")
    with_password(sp)
    sp.set_defaults(func=cmd_open)
    custodian.add_parser(sub, with_password)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (CliError, token.TokenError) as exc:
        if isinstance(exc, token.TokenError):
            exc = token_error(exc)
        print(f"sealbid: error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except NETWORK_ERRORS as exc:
        print(f"sealbid: error: network: cannot reach {args.server}: {exc}", file=sys.stderr)
        return errors.NETWORK
    except KeyboardInterrupt:
        print("sealbid: interrupted; `submit` resumes where it stopped", file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"sealbid: error: {exc}", file=sys.stderr)
        return errors.FAILURE
    return errors.OK


if __name__ == "__main__":
    sys.exit(main())
