"""Sign-in: Argon2 hashes, throttled attempts, sessions an administrator can end, audit entries."""

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from accounts.models import UserSession
from accounts.sessions import end_sessions
from audit.models import AuditEntry
from common.actor import Actor
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_passwords_are_hashed_with_argon2(people):
    assert people["alice"].password.startswith("argon2$argon2id$")


def test_a_good_sign_in_opens_a_tracked_audited_session(people):
    client = Client()
    res = client.post("/login/", {"username": "alice", "password": PASSWORD})
    assert res.status_code == 302
    assert UserSession.objects.filter(user=people["alice"]).count() == 1
    assert AuditEntry.objects.filter(action="accounts.session.signed_in", actor_id=people["alice"].pk).exists()


def test_repeated_failures_lock_the_account_for_that_address(people):
    client = Client()
    for _ in range(4):
        res = client.post("/login/", {"username": "alice", "password": "wrong"})
        assert res.status_code == 200
    res = client.post("/login/", {"username": "alice", "password": "wrong"})
    assert res.status_code == 429  # the fifth failure locks
    res = client.post("/login/", {"username": "alice", "password": PASSWORD})
    assert res.status_code == 429
    assert "15" in res.content.decode()
    assert not UserSession.objects.filter(user=people["alice"]).exists()
    assert AuditEntry.objects.filter(action="accounts.session.sign_in_failed").count() >= 5
    # Another user from the same address is not locked out by alice's failures.
    assert Client().post("/login/", {"username": "bob", "password": PASSWORD}).status_code == 302


def test_an_administrator_ends_a_users_sessions(people):
    first, second = Client(), Client()
    for c in (first, second):
        assert c.post("/login/", {"username": "bob", "password": PASSWORD}).status_code == 302
    assert first.get("/tenders/").status_code == 200
    ended = end_sessions(people["bob"], actor=Actor.of(people["admin"]), reason="test")
    assert ended == 2
    assert not Session.objects.exists()
    assert first.get("/tenders/").status_code == 302  # back to sign-in
    assert AuditEntry.objects.filter(action="accounts.session.ended_by_admin").exists()


def test_the_admin_action_ends_sessions(people):
    bob = Client()
    bob.post("/login/", {"username": "bob", "password": PASSWORD})
    admin = Client()
    admin.force_login(people["admin"])
    res = admin.post("/admin/accounts/user/", {"action": "end_all_sessions",
                                               "_selected_action": [people["bob"].pk]})
    assert res.status_code == 302
    assert not UserSession.objects.filter(user=people["bob"]).exists()
    assert bob.get("/tenders/").status_code == 302


def test_sign_out_is_audited(people):
    client = Client()
    client.post("/login/", {"username": "alice", "password": PASSWORD})
    client.post("/logout/")
    assert AuditEntry.objects.filter(action="accounts.session.signed_out").exists()
    assert not UserSession.objects.exists()


def _sign_in(ip: str, username: str, password: str) -> int:
    return Client(REMOTE_ADDR=ip).post("/login/", {"username": username, "password": password}).status_code


def test_failures_from_a_shared_address_lock_only_that_account_there(people):
    """Behind one proxy address (or one office's NAT) an attacker's five wrong passwords for alice
    lock alice at that address only: bob signs in from the same address, alice from another."""
    shared = "203.0.113.7"
    assert [_sign_in(shared, "alice", "wrong") for _ in range(5)] == [200, 200, 200, 200, 429]
    assert _sign_in(shared, "alice", PASSWORD) == 429
    assert _sign_in(shared, "bob", PASSWORD) == 302
    assert _sign_in("198.51.100.20", "alice", PASSWORD) == 302


def test_hammering_one_account_from_many_addresses_is_throttled(people, settings):
    settings.LOGIN_ACCOUNT_FAILURES = 8
    settings.LOGIN_ACCOUNT_FAILURES_PER_HOUR = 1  # no refill within the test, however slow the machine
    assert _sign_in("192.0.2.50", "alice", PASSWORD) == 302  # alice's usual address
    addresses = [f"198.51.100.{i}" for i in range(1, 5)]
    for ip in addresses:  # two guesses from each: no pair ever reaches its lockout
        assert [_sign_in(ip, "ALICE" if ip.endswith("1") else "alice", "wrong") for _ in range(2)] == [200, 200]
    # The account's budget is spent: from a new address even the right password is not checked.
    res = Client(REMOTE_ADDR="198.51.100.99").post("/login/", {"username": "alice", "password": PASSWORD})
    assert res.status_code == 429 and int(res["Retry-After"]) > 0
    assert "该账号或该地址登录失败次数过多" in res.content.decode()
    signed_in = AuditEntry.objects.filter(action="accounts.session.signed_in", actor_id=people["alice"].pk)
    assert signed_in.count() == 1
    assert _sign_in("198.51.100.98", "alice", "guess") == 429
    # Other accounts are not concerned; alice at an address she signed in from before still can.
    assert _sign_in("198.51.100.99", "bob", PASSWORD) == 302
    assert _sign_in("192.0.2.50", "alice", PASSWORD) == 302
    assert signed_in.count() == 2


def test_one_address_spraying_many_accounts_is_throttled(people, settings):
    settings.LOGIN_ADDRESS_FAILURES = 6
    settings.LOGIN_ADDRESS_FAILURES_PER_HOUR = 1
    sprayer = "198.51.100.77"
    for name in ("alice", "bob", "host", "expert", "supervisor", "venue_staff"):
        assert _sign_in(sprayer, name, "wrong") == 200
    assert _sign_in(sprayer, "other_host", PASSWORD) == 429
    assert _sign_in("198.51.100.78", "other_host", PASSWORD) == 302
