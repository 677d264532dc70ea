"""Set-up of the console layout browser test (``test_console_layout.py``), run inside ``manage.py
shell`` on the demo data: audit entries as wide as the log's columns allow, written through
``log_action`` as the platform writes them.

Every action code the catalogue labels appears once (so every action's and alert's label, in both
languages, is among the rows), each with the worst of one column: an account name of 32 characters
and an organisation of 40 Chinese characters, an IPv6 address of 45 characters (the column's
limit), an object id of 64 characters (the column's limit) of a known and of an unknown kind, each
of the platform's own processes, the longest role label, a venue room with large numbers. Prints
one JSON line: how many entries were written and the widest values, for the test to find."""

from __future__ import annotations

import itertools
import json

LONG_ORG = "江苏省南京市城市建设投资控股集团有限责任公司第三工程建设项目管理分公司招标采购中心"[:40]
LONG_USER = "zhang.wei.procurement@example.cn"  # 32 characters, as people sign in with it
IPV6 = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"  # 45 characters: AuditEntry.ip's max_length
OBJECT_ID = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"  # 64: object_id's max_length
EXTRA_ROWS = 60  # beyond one entry per action code: at least 200 rows in all


def seed_worst_case() -> None:
    from accounts.models import User
    from audit.log import log_action
    from common.action_labels import ACTION
    from common.actor import Actor
    from common.labels import SYSTEM_ACTOR
    from exchange.events import EVENTS

    assert len(LONG_ORG) == 40 and len(IPV6) == 45 and len(OBJECT_ID) == 64
    host = User.objects.get(username="host")
    bidder = User.objects.select_related("organisation").get(username="bidder1")
    tenderee_org = "南京市城市建设投资控股（集团）有限责任公司"  # the demo's longest real name
    actors = itertools.cycle([
        Actor(user_id=host.pk, username=LONG_USER, role="host", organisation_id=host.organisation_id,
              organisation_name=LONG_ORG, ip=IPV6),
        *(Actor.system(name) for name in SYSTEM_ACTOR),
        Actor(user_id=bidder.pk, username=bidder.username, role="bidder",
              organisation_id=bidder.organisation_id, organisation_name=bidder.organisation.name,
              ip="203.119.255.254"),
        Actor(user_id=host.pk, username="host", role="host", organisation_id=host.organisation_id,
              organisation_name=tenderee_org, ip="2001:db8:85a3::8a2e:370:7334"),
    ])
    objects = itertools.cycle([
        ("bidding.bidsubmission", OBJECT_ID), ("http", "/" + OBJECT_ID[:63]),
        ("some.unknown_kind", OBJECT_ID), ("evaluation.evaluationsession", "123456"), ("", ""),
    ])
    rooms = itertools.cycle(["venue:123456:654321", "hall:123456", "console:all", ""])
    codes = sorted(ACTION, key=len, reverse=True)  # the longest codes first, then every other one
    longest = codes[:EXTRA_ROWS]
    written = 0
    for action in [*codes, *longest]:
        object_type, object_id = next(objects)
        log_action(action, actor=next(actors), object_type=object_type, object_id=object_id,
                   # The actions the data exchange publishes name no tender: no event for one that
                   # does not exist (the console shows the tender column all the same).
                   tender_id=None if action in EVENTS else 123456, room=next(rooms),
                   data={"seeded": "console layout"})
        written += 1
    print(json.dumps({"written": written, "org": LONG_ORG, "user": LONG_USER, "ip": IPV6, "object": OBJECT_ID},
                     ensure_ascii=False))
