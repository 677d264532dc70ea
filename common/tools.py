"""External programs the platform itself runs (``pg_dump`` and ``pg_restore`` for backups,
``chronyc`` and ``timedatectl`` for the clock's state): every one is found here, so a machine
without it gets a clear answer instead of a traceback, and ``tests/test_external_tools.py`` can check
that no module runs a program found any other way."""

from __future__ import annotations

import shutil

SYSTEM_DIRS = "/usr/sbin:/sbin:/usr/bin:/bin"


def find_tool(name: str) -> str | None:
    """The path of the program ``name`` on PATH (or in the system directories, which a service's
    PATH may lack), or None when it is not installed."""
    return shutil.which(name) or shutil.which(name, path=SYSTEM_DIRS)
