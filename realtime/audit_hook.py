"""How realtime's own room kinds (the ``demo`` room) write an audit entry without importing the
audit log: the app that keeps the log registers its append function here, in its
``AppConfig.ready`` (``audit.apps``). Realtime depends on no domain app; the hook is called inside
the caller's transaction, with ``log_action``'s arguments."""

from __future__ import annotations

from typing import Any, Callable

from django.core.exceptions import ImproperlyConfigured

_append: Callable[..., Any] | None = None


def register_audit_hook(append: Callable[..., Any]) -> None:
    global _append
    _append = append


def audit(action: str, **fields: Any) -> Any:
    """Append ``action`` to the audit log through the registered hook (``log_action``)."""
    if _append is None:
        raise ImproperlyConfigured("no audit hook is registered with realtime (is 'audit' installed?)")
    return _append(action, **fields)
