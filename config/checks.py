"""System checks that refuse unsafe production settings.

They run as errors when ``KAIBIAO_ENV=production`` and under ``manage.py check --deploy`` always, so an
operator sees exactly which embedded default is still in use. ``config/asgi.py`` runs them before a
production server accepts a connection.
"""

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
    if getattr(settings, "E2E_TEST_PAGES", False):
        errors.append(Error("E2E_TEST_PAGES is on: the browser-test pages are served.",
                            hint="Unset E2E_TEST_PAGES outside the test suite.", id="kaibiao.E006"))
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
