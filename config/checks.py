"""System checks that refuse unsafe production settings.

They run as errors when ``KAIBIAO_ENV=production`` and under ``manage.py check --deploy`` always, so an
operator sees exactly which embedded default is still in use. ``config/asgi.py`` runs them before a
production server accepts a connection.
"""

import os

from django.conf import settings
from django.core.checks import Error, Tags, register

EMBEDDED_HINT = "Set it in the environment; see docs/operations.md."


def _unsafe_settings() -> list[Error]:
    errors: list[Error] = []
    if settings.DEBUG:
        errors.append(Error("DEBUG is on.", hint="Unset DEBUG or set DEBUG=0.", id="kaibiao.E001"))
    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        errors.append(Error(
            "The database is the embedded SQLite file.",
            hint="Set DATABASE_URL=postgres://user:password@host:5432/name. " + EMBEDDED_HINT,
            id="kaibiao.E002"))
    backend = settings.CHANNEL_LAYERS.get("default", {}).get("BACKEND", "")
    if backend.endswith("InMemoryChannelLayer"):
        errors.append(Error(
            "The channel layer is in memory: workers cannot reach each other's clients.",
            hint="Set REDIS_URL=redis://host:6379/0. " + EMBEDDED_HINT, id="kaibiao.E003"))
    if settings.SECRET_KEY == settings.EMBEDDED_SECRET_KEY or len(settings.SECRET_KEY) < 50:
        errors.append(Error(
            "SECRET_KEY is the embedded default or shorter than 50 characters.",
            hint="Set SECRET_KEY to 50+ random characters, e.g. "
                 "python -c 'import secrets; print(secrets.token_urlsafe(64))'.",
            id="kaibiao.E004"))
    if not settings.WEBSOCKET_ALLOWED_ORIGINS:
        errors.append(Error(
            "WEBSOCKET_ALLOWED_ORIGINS is empty: browsers on any site could open sockets.",
            hint="Set WEBSOCKET_ALLOWED_ORIGINS=https://your.host (comma-separated).",
            id="kaibiao.E005"))
    if settings.OCDS_PREFIX == settings.OCDS_PLACEHOLDER_PREFIX:
        errors.append(Error(
            f"OCDS_PREFIX is the placeholder {settings.OCDS_PLACEHOLDER_PREFIX}: the published ocids would "
            "collide with every other installation's.",
            hint="Register a prefix with the OCDS helpdesk (https://standard.open-contracting.org/latest/en/"
                 "guidance/build/#register-an-ocid-prefix) and set OCDS_PREFIX=ocds-xxxxxx "
                 "(docs/data-exchange.md).", id="kaibiao.E011"))
    errors += _signing_key_pin()
    errors += _socket_and_proxy_settings()
    if getattr(settings, "E2E_TEST_PAGES", False):
        errors.append(Error("E2E_TEST_PAGES is on: the browser-test pages are served.",
                            hint="Unset E2E_TEST_PAGES outside the test suite.", id="kaibiao.E006"))
    if os.environ.get("KAIBIAO_CRASH_AT"):
        # Ignored in production (common/crash.py), but a deployment that sets it was copied from a
        # fault test: say so rather than trust that nothing else reads it.
        errors.append(Error("KAIBIAO_CRASH_AT is set: it is the fault tests' crash injection.",
                            hint="Unset KAIBIAO_CRASH_AT outside the test suite.", id="kaibiao.E010"))
    return errors


def _signing_key_pin() -> list[Error]:
    pinned = settings.PLATFORM_SIGNING_PUBLIC_KEY
    if pinned and (len(pinned) != 64 or any(c not in "0123456789abcdefABCDEF" for c in pinned)):
        return [Error("PLATFORM_SIGNING_PUBLIC_KEY is not 64 hex digits.",
                      hint="Set it to the hex of the platform key's 32-byte public key (docs/cryptography.md).",
                      id="kaibiao.E013")]
    if settings.PLATFORM_SIGNING_KEY_PKCS11 and not pinned:
        return [Error("The platform's HSM key is not pinned: a token swapped for another under the same "
                      "labels would sign for the platform from the next start.",
                      hint="Set PLATFORM_SIGNING_PUBLIC_KEY to its public key's hex (docs/cryptography.md).",
                      id="kaibiao.E012")]
    return []


def _socket_and_proxy_settings() -> list[Error]:
    from realtime.origin import parse_origin

    errors: list[Error] = []
    unsafe = [o for o in settings.WEBSOCKET_ALLOWED_ORIGINS
              if o == "*" or (parse_origin(o) or ("",))[0] != "https"]
    if unsafe:
        errors.append(Error(
            f"WEBSOCKET_ALLOWED_ORIGINS has entries that are a wildcard, not https or no origin: "
            f"{', '.join(map(repr, unsafe))}.",
            hint="List each full origin the pages are served from, https only, e.g. "
                 "WEBSOCKET_ALLOWED_ORIGINS=https://kb.example.cn (docs/operations.md).",
            id="kaibiao.E007"))
    if settings.RT_DEMO_ROOMS:
        errors.append(Error(
            "RT_DEMO_ROOMS is on: any signed-in user can open and post in demo rooms.",
            hint="Unset RT_DEMO_ROOMS or set RT_DEMO_ROOMS=0.", id="kaibiao.E008"))
    proxy_headers = [name for name, on in (
        ("SECURE_PROXY_SSL_HEADER", settings.SECURE_PROXY_SSL_HEADER),
        ("USE_X_FORWARDED_HOST", settings.USE_X_FORWARDED_HOST),
        ("USE_X_FORWARDED_PORT", settings.USE_X_FORWARDED_PORT)) if on]
    if proxy_headers and settings.AXES_IPWARE_PROXY_COUNT < 1:
        errors.append(Error(
            f"{', '.join(proxy_headers)} trusts a proxy, but PROXY_COUNT is 0: every client then has "
            "the proxy's address, in the audit log and in sign-in throttling.",
            hint="Set PROXY_COUNT to the number of proxies in front of the workers that append to "
                 "X-Forwarded-For (1 for the one nginx of docs/operations.md).", id="kaibiao.E009"))
    return errors


@register(Tags.security, deploy=True)
def check_deploy_settings(app_configs, **kwargs):
    """Under --deploy: refuse every embedded default a production server must not run with."""
    if settings.PRODUCTION:
        return []  # check_production_settings already reports them
    return _unsafe_settings()


@register(Tags.security)
def check_production_settings(app_configs, **kwargs):
    """Always: when the environment says production, the same refusals without --deploy."""
    if not settings.PRODUCTION:
        return []
    return _unsafe_settings()
