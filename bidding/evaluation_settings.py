"""A lot's evaluation settings (评标办法), as bidding sees them: a JSON object it stores on the lot
(``Lot.evaluation_settings``), amends as a material field, and asks the evaluation app to validate.

Bidding does not know what the settings mean. The app that evaluates registers its defaults and its
validator here, in its ``AppConfig.ready`` (``evaluation.apps`` registers
``evaluation.rules.settings``); bidding calls ``defaults()`` for a new lot and ``validate()`` when a
tender is created, edited, amended or published.
"""

from __future__ import annotations

from typing import Any, Callable

from django.core.exceptions import ImproperlyConfigured

_hooks: dict[str, Callable[..., Any]] = {}


def register(*, defaults: Callable[[], dict[str, Any]], validate: Callable[[Any], dict[str, Any]]) -> None:
    """``defaults()``: a new lot's settings; ``validate(settings)``: the settings merged over the
    defaults, or a ``BadRequest`` (``common.errors``) naming what is wrong."""
    _hooks.update(defaults=defaults, validate=validate)


def _hook(name: str) -> Callable[..., Any]:
    try:
        return _hooks[name]
    except KeyError:
        raise ImproperlyConfigured("no app registered the evaluation settings (is 'evaluation' "
                                   "installed?)") from None


def defaults() -> dict[str, Any]:
    return _hook("defaults")()


def validate(settings: Any) -> dict[str, Any]:
    return _hook("validate")(settings)
