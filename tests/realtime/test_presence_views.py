"""Presence per role (``RoomKind.presence_view``) and the hub's push of it (``hub_presence.send_presence``):
each distinct view serialised once, a watcher sent a view only when it differs from its last one.
No database and no sockets: fake members with a recording connection."""

from __future__ import annotations

from bidding.opening.hall import HallRoom
from realtime import frames, hub
from realtime.hub import HubRoom
from realtime.hub_presence import send_presence
from realtime.kinds import RoomKind

ROOM = "hall:7"
KIND = HallRoom()


class Conn:
    def __init__(self):
        self.got: list[str] = []

    def send_text(self, text: str) -> None:
        self.got.append(text)


class Member:
    def __init__(self, role: str, kind=KIND, buffering=False):
        self.role, self.kind, self.buffering, self.conn = role, kind, buffering, Conn()


def summary(hosts: int, bidders: int) -> dict:
    users = [{"id": i, "name": f"主持人{i}", "role": "host", "connections": 1} for i in range(hosts)]
    users += [{"id": 100 + i, "name": f"投标人{i} 有限公司", "role": "bidder", "connections": 2}
              for i in range(bidders)]
    roles = {}
    if hosts:
        roles["host"] = {"users": hosts, "connections": hosts}
    if bidders:
        roles["bidder"] = {"users": bidders, "connections": 2 * bidders}
    return {"roles": roles, "users": users}


def room_with(members) -> HubRoom:
    room = HubRoom(ROOM)
    room.members.update(members)
    room.watching.update(members)
    return room


def counting_dumps(monkeypatch) -> list:
    calls = []
    real = frames.dumps

    def dumps(frame):
        calls.append(frame)
        return real(frame)

    monkeypatch.setattr(hub.frames, "dumps", dumps)
    return calls


def presence_of(text: str) -> dict:
    import json

    return json.loads(text)["presence"]


def test_the_default_view_is_the_whole_summary_for_presence_roles_only():
    class Kind(RoomKind):
        presence_roles = frozenset({"host"})

    data = summary(1, 2)
    assert Kind().presence_view("host", data) is data
    assert Kind().presence_view("bidder", data) is None


def test_a_bidder_in_the_hall_sees_the_host_side_only():
    data = summary(2, 3)
    assert KIND.presence_view("bidder", data) == {"host": {"online": True, "users": 2, "connections": 2}}
    assert KIND.presence_view("bidder", summary(0, 3)) == {
        "host": {"online": False, "users": 0, "connections": 0}}
    assert KIND.presence_view("host", data) is data and KIND.presence_view("supervisor", data) is data


def test_each_view_is_serialised_once_and_an_unchanged_one_is_not_sent_again(monkeypatch):
    dumps = counting_dumps(monkeypatch)
    host, supervisor = Member("host"), Member("supervisor")
    bidders = [Member("bidder") for _ in range(300)]
    room = room_with([host, supervisor, *bidders])

    send_presence(room, summary(1, 300))
    assert len(dumps) == 2  # the whole summary (host and supervisor), the host side (bidders)
    assert host.conn.got[0] is supervisor.conn.got[0]  # one string: framed once by the transport
    assert presence_of(host.conn.got[0])["roles"]["bidder"] == {"users": 300, "connections": 600}
    bidder_text = bidders[0].conn.got[0]
    assert all(b.conn.got == [bidder_text] for b in bidders)
    assert presence_of(bidder_text) == {"host": {"online": True, "users": 1, "connections": 1}}

    # Another bidder joins: the host's view changes, the bidders' does not.
    late = Member("bidder")
    room.watching.add(late)
    dumps.clear()
    send_presence(room, summary(1, 301))
    assert len(dumps) == 2
    assert len(host.conn.got) == len(supervisor.conn.got) == 2
    assert all(len(b.conn.got) == 1 for b in bidders)  # not 300 sockets for one join
    assert late.conn.got == [bidder_text] and late.conn.got[0] is bidder_text  # the same object

    # A heartbeat's push with nothing changed sends nothing at all.
    send_presence(room, summary(1, 301))
    assert len(host.conn.got) == 2 and all(len(b.conn.got) == 1 for b in bidders)

    # The host goes: every bidder hears it once.
    send_presence(room, summary(0, 301))
    assert all(presence_of(b.conn.got[-1])["host"]["online"] is False for b in [*bidders, late])
    assert all(len(b.conn.got) == 2 for b in bidders) and len(late.conn.got) == 2


def test_the_sockets_are_written_view_by_view(monkeypatch):
    order = []

    class Recording(Conn):
        def send_text(self, text):
            order.append(text)

    members = [Member(role) for role in ("bidder", "host", "bidder", "supervisor", "bidder")]
    for m in members:
        m.conn = Recording()
    send_presence(room_with(members), summary(1, 3))
    # One run per distinct text: the transport's one-entry framing cache frames each text once.
    runs = [t for i, t in enumerate(order) if i == 0 or order[i - 1] is not t]
    assert len(order) == 5 and len(runs) == 2


def test_a_member_still_buffering_its_join_gets_its_view_on_the_next_push():
    waiting = Member("bidder", buffering=True)
    room = room_with([waiting])
    send_presence(room, summary(1, 1))
    assert waiting.conn.got == []
    waiting.buffering = False
    send_presence(room, summary(1, 1))
    assert presence_of(waiting.conn.got[0])["host"]["online"] is True


def test_a_role_without_a_view_gets_nothing():
    class Kind(RoomKind):
        presence_roles = frozenset({"host"})

    stranger = Member("bidder", kind=Kind())
    send_presence(room_with([stranger]), summary(1, 1))
    assert stranger.conn.got == []
