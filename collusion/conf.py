"""The analysis' settings (``settings.COLLUSION``): which signals run and their thresholds. Unknown
keys and signal names fail loudly at start-up (``collusion.checks``), never silently."""

from __future__ import annotations

from dataclasses import fields, replace
from fractions import Fraction
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .signals.errors import ErrorSettings
from .signals.graph import GraphSettings
from .signals.leads import Signal
from .signals.prices import PriceSettings
from .signals.run import AnalysisSettings
from .signals.text import TextSettings

DEFAULTS: dict[str, Any] = {
    "enabled": [s.value for s in Signal if s != Signal.CO_BIDDING],
    "text": {},  # TextSettings fields
    "prices": {},  # PriceSettings fields (fractions as "1/100" strings)
    "graph": {},  # GraphSettings fields
    "errors": {},  # ErrorSettings fields (shared rare errors)
    "decryption_within_seconds": 2.0,
    "ignored_networks": [],  # a trading centre's public terminals, a known shared proxy (CIDR)
    "media_min_bytes": 2048,
    "max_document_bytes": 256 << 20,
    "max_documents": 200,
}


def _merge(cls, given: dict[str, Any], where: str):
    base = cls()
    names = {f.name: f for f in fields(cls)}
    unknown = set(given) - set(names)
    if unknown:
        raise ImproperlyConfigured(f"COLLUSION[{where!r}] has unknown settings: {sorted(unknown)}")
    values = {}
    for key, value in given.items():
        current = getattr(base, key)
        values[key] = Fraction(value) if isinstance(current, Fraction) else type(current)(value)
    return replace(base, **values)


def raw() -> dict[str, Any]:
    given = getattr(settings, "COLLUSION", {}) or {}
    if not isinstance(given, dict):
        raise ImproperlyConfigured("COLLUSION is a JSON object of settings")
    unknown = set(given) - set(DEFAULTS)
    if unknown:
        raise ImproperlyConfigured(f"COLLUSION has unknown settings: {sorted(unknown)}")
    return {**DEFAULTS, **given}


def analysis_settings() -> AnalysisSettings:
    conf = raw()
    try:
        enabled = frozenset(Signal(s) for s in conf["enabled"])
    except ValueError as exc:
        raise ImproperlyConfigured(f"COLLUSION['enabled']: {exc}") from None
    return AnalysisSettings(enabled=enabled, text=_merge(TextSettings, conf["text"], "text"),
                            prices=_merge(PriceSettings, conf["prices"], "prices"),
                            errors=_merge(ErrorSettings, conf["errors"], "errors"),
                            decryption_within_seconds=float(conf["decryption_within_seconds"]),
                            ignored_networks=tuple(conf["ignored_networks"]),
                            media_min_bytes=int(conf["media_min_bytes"]))


def graph_settings() -> GraphSettings:
    return _merge(GraphSettings, raw()["graph"], "graph")


def snapshot() -> dict[str, Any]:
    """The settings a run used, for its record and its audit entry."""
    conf = raw()
    a = analysis_settings()
    return {"enabled": sorted(s.value for s in a.enabled),
            "text": {f.name: getattr(a.text, f.name) for f in fields(a.text)},
            "prices": {f.name: str(getattr(a.prices, f.name)) for f in fields(a.prices)},
            "errors": {f.name: getattr(a.errors, f.name) for f in fields(a.errors)},
            "decryption_within_seconds": a.decryption_within_seconds,
            "ignored_networks": list(a.ignored_networks), "media_min_bytes": a.media_min_bytes,
            "max_document_bytes": conf["max_document_bytes"], "max_documents": conf["max_documents"]}
