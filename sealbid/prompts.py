"""What several commands ask for: the key file password, the private key, the server client."""

from __future__ import annotations

import getpass
import os
import unicodedata
from pathlib import Path

from crypto import gm, gm_keys, keys

from . import errors
from .client import Client
from .errors import CliError


def ask_password(args, *, confirm: bool = False) -> bytes:
    if args.password_file:
        text = Path(args.password_file).read_text(encoding="utf-8").rstrip("\r\n")
    else:
        text = getpass.getpass("key file password: ")
        if confirm and getpass.getpass("again: ") != text:
            raise CliError("the passwords differ", errors.WRONG_PASSWORD)
    if not text:
        raise CliError("an empty password is not allowed", errors.WRONG_PASSWORD)
    return unicodedata.normalize("NFC", text).encode("utf-8")


def token_ref(args):
    """The key on a PKCS#11 token that ``--pkcs11-module`` names, or None (the key is a file)."""
    from crypto import token

    if not getattr(args, "pkcs11_module", None):
        return None
    if not args.token_label or not args.key_label:
        raise CliError("--pkcs11-module needs --token-label and --key-label", errors.USAGE)
    if args.pin_file:
        pin = Path(args.pin_file).read_text(encoding="utf-8").rstrip("\r\n")
    else:
        pin = getpass.getpass("token PIN: ")
    return token.TokenRef(args.pkcs11_module, args.token_label, args.key_label, pin)


def token_error(exc) -> CliError:
    """A ``crypto.token.TokenError`` as the tool reports it: a wrong PIN is exit 3, the rest 12."""
    if exc.kind == "wrong_pin":
        return CliError(f"{exc} (nothing was done; try again with the right PIN)", errors.WRONG_PASSWORD)
    return CliError(str(exc), errors.TOKEN)


def load_private_key(args):
    from crypto import token

    ref = token_ref(args)
    if ref is not None:
        try:
            return token.TokenPrivateKey(ref)
        except token.TokenError as exc:
            raise token_error(exc) from None
    if not args.key:
        raise CliError("pass --key (a key file) or --pkcs11-module (a key on a token)", errors.USAGE)
    data = Path(args.key).read_bytes()
    try:
        return gm_keys.load_any_private_key_file(data, ask_password(args))
    except keys.WrongPassword:
        raise CliError("wrong password (or a damaged key file)", errors.WRONG_PASSWORD) from None
    except keys.InvalidKeyFile as exc:
        raise CliError(f"not a usable key file: {exc}") from None


def make_client(args) -> Client:
    return Client(args.server, args.token)


def write_new_key(args):
    """Make a key and write it, password-protected, to ``args.out`` (mode 0600; an existing file only
    with ``--force``): ``keygen`` of a bidder and of a custodian. P-256 (``tender-key/v1``), or SM2
    (``tender-key/sm2-v1``) with ``--suite gm``."""
    out = Path(args.out)
    if out.exists() and not args.force:
        raise CliError(f"{out} exists; pass --force to overwrite it", errors.USAGE)
    if getattr(args, "suite", "intl") == "gm":
        key = gm.generate_sm2_key()
        data = gm_keys.private_key_to_file(key, ask_password(args, confirm=True), iterations=args.iterations)
    else:
        key = keys.generate_bidder_key()
        data = keys.private_key_to_file(key, ask_password(args, confirm=True), iterations=args.iterations)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return key
