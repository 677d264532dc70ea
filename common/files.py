"""Small file helpers for key material the platform provisions for itself."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def create_secret_file(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file readable only by this user, durably; if another process
    created the file first, keep theirs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def provisioned_key_pem(path: Path, make_pem: Callable[[], bytes], *, what: str,
                        password_env: str) -> tuple[bytes, bytes | None]:
    """The PEM at ``path`` and its password (from the environment variable ``password_env``).

    Production provisions the file; the embedded defaults create it on first use.
    """
    path = Path(path)
    if not path.exists():
        if settings.PRODUCTION:
            raise ImproperlyConfigured(f"{what} {path} does not exist")
        create_secret_file(path, make_pem())
    password = os.environ.get(password_env)
    return path.read_bytes(), password.encode() if password else None
