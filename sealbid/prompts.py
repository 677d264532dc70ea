"""What several commands ask for: the key file password, the private key, the server client."""

from __future__ import annotations

import getpass
import unicodedata
from pathlib import Path

from crypto import keys

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


def load_private_key(args):
    data = Path(args.key).read_bytes()
    try:
        return keys.load_private_key_file(data, ask_password(args))
    except keys.WrongPassword:
        raise CliError("wrong password (or a damaged key file)", errors.WRONG_PASSWORD) from None
    except keys.InvalidKeyFile as exc:
        raise CliError(f"not a usable key file: {exc}") from None


def make_client(args) -> Client:
    return Client(args.server, args.token)
