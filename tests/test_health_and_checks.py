"""/healthz, the production system checks, and the language of the pages."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parent.parent

PRODUCTION_ENV = {
    "KAIBIAO_ENV": "production",
    "DATABASE_URL": "postgres://kaibiao@db.internal:5432/kaibiao",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "SECRET_KEY": "x9Vt3-kq2P_aLm8Rz7YwQe4Nc6Hs1Jb5Ud0Fg-Ko3Ti9Ml2Xp7Sv4Wr6Yn8Zq1Ac5Ee",
    "ALLOWED_HOSTS": "kb.example.cn",
    "WEBSOCKET_ALLOWED_ORIGINS": "https://kb.example.cn",
    "PROXY_COUNT": "1",  # the one TLS proxy of docs/operations.md (production trusts its headers)
    "OCDS_PREFIX": "ocds-9x7k2q",  # a registered ocid prefix, not the placeholder
}


def run_check(env_over: dict, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "KAIBIAO_ENV"}}
    env.update(env_over)
    return subprocess.run([sys.executable, "manage.py", "check", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_check_deploy_is_clean_with_a_production_environment():
    result = run_check(PRODUCTION_ENV, "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("change, check_id", [
    ({"DEBUG": "1"}, "kaibiao.E001"),
    ({"DATABASE_URL": "sqlite:////tmp/x.sqlite3"}, "kaibiao.E002"),
    ({"REDIS_URL": ""}, "kaibiao.E003"),
    ({"SECRET_KEY": ""}, "kaibiao.E004"),
    ({"WEBSOCKET_ALLOWED_ORIGINS": ""}, "kaibiao.E005"),
    ({"E2E_TEST_PAGES": "1"}, "kaibiao.E006"),
    ({"WEBSOCKET_ALLOWED_ORIGINS": "*"}, "kaibiao.E007"),
    ({"WEBSOCKET_ALLOWED_ORIGINS": "https://kb.example.cn,*"}, "kaibiao.E007"),
    ({"WEBSOCKET_ALLOWED_ORIGINS": "http://kb.example.cn"}, "kaibiao.E007"),
    ({"WEBSOCKET_ALLOWED_ORIGINS": "kb.example.cn"}, "kaibiao.E007"),
    ({"WEBSOCKET_ALLOWED_ORIGINS": "https://.example.cn"}, "kaibiao.E007"),
    ({"RT_DEMO_ROOMS": "1"}, "kaibiao.E008"),
    ({"PROXY_COUNT": "0"}, "kaibiao.E009"),
    ({"KAIBIAO_CRASH_AT": "create"}, "kaibiao.E010"),
    ({"OCDS_PREFIX": "ocds-kb0000"}, "kaibiao.E011"),
    ({"PLATFORM_SIGNING_KEY_PKCS11": "pkcs11:token=kb;object=k?module-path=/usr/lib/softhsm/libsofthsm2.so"},
     "kaibiao.E012"),
    ({"PLATFORM_SIGNING_PUBLIC_KEY": "00" * 31}, "kaibiao.E013"),
])
def test_production_refuses_unsafe_settings(change, check_id):
    env = dict(PRODUCTION_ENV, **change)
    if change.get("SECRET_KEY") == "":
        env.pop("SECRET_KEY")
    result = run_check(env)
    assert result.returncode != 0
    assert check_id in result.stderr + result.stdout
    assert "HINT" in result.stderr + result.stdout


def test_each_refusal_is_the_only_one_for_its_setting():
    """The production environment above passes; each of E007-E009 is caused by its own setting
    alone, so the hint an operator reads is the one that fixes it."""
    for change, check_id in (({"WEBSOCKET_ALLOWED_ORIGINS": "https://kb.example.cn,http://kb.example.cn"},
                              "kaibiao.E007"), ({"RT_DEMO_ROOMS": "1"}, "kaibiao.E008"),
                             ({"PROXY_COUNT": "0"}, "kaibiao.E009")):
        result = run_check(dict(PRODUCTION_ENV, **change))
        output = result.stderr + result.stdout
        assert result.returncode != 0 and re.findall(r"kaibiao\.E\d+", output) == [check_id], output


def test_the_embedded_defaults_are_flagged_under_deploy():
    result = run_check({}, "--deploy")
    output = result.stderr + result.stdout
    for check_id in ("kaibiao.E002", "kaibiao.E003", "kaibiao.E004", "kaibiao.E011"):
        assert check_id in output


@pytest.mark.parametrize("prefix", ["ocds-kb00", "OCDS-abcdef", "ocds-abcdef-1", "abcdef", "ocds-ABCDEF", "ocds-abc d1"])
def test_a_malformed_ocid_prefix_stops_the_settings(prefix):
    result = run_check({"OCDS_PREFIX": prefix})
    assert result.returncode != 0 and "OCDS_PREFIX" in result.stderr and "is not an ocid prefix" in result.stderr


def test_a_nonsense_boolean_fails_loudly():
    result = run_check({"DEBUG": "maybe"})
    assert result.returncode != 0 and "DEBUG must be one of" in result.stderr


@pytest.mark.django_db(transaction=True)
def test_healthz_reports_the_database_and_the_channel_layer():
    res = Client().get("/healthz")
    assert res.status_code == 200, res.content
    body = res.json()
    assert body["status"] == "ok" and body["database"]["ok"] and body["channel_layer"]["ok"]


@pytest.mark.django_db(transaction=True)
def test_healthz_on_the_redis_layer(redis_url, settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                                           "CONFIG": {"hosts": [redis_url]}}}
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    try:
        res = Client().get("/healthz")
        assert res.status_code == 200, res.content
        assert res.json()["channel_layer"]["backend"] == "RedisPubSubChannelLayer"
    finally:
        channel_layers.backends.clear()


@pytest.mark.django_db(transaction=True)
def test_healthz_says_503_when_the_channel_layer_is_down(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                                           "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]}}}
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    try:
        res = Client().get("/healthz")
        assert res.status_code == 503
        assert res.json()["channel_layer"]["ok"] is False and res.json()["database"]["ok"] is True
    finally:
        channel_layers.backends.clear()


@pytest.mark.django_db
def test_the_home_page_speaks_chinese_by_default_and_english_on_request():
    res = Client().get("/")
    assert res.status_code == 200
    text = res.content.decode()
    assert 'lang="zh-hans"' in text and "不见面开标" in text and "登录" in text
    res = Client(HTTP_ACCEPT_LANGUAGE="en").get("/")
    assert 'lang="en"' in res.content.decode() and "Sign in" in res.content.decode()
