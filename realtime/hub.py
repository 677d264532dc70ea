"""The process-local hub: ONE subscription per worker process and room, frames written straight to
the local sockets.

For each room with local members the hub subscribes one Redis pub/sub channel (or, without Redis,
receives the doorbells of its own process). It puts events in room-wide ``seq`` order (after-commit
callbacks of consecutive transactions may ring out of order), repairs holes from the database, and
hands each frame — serialised once by the writer of the event — to every member that may see its
stream. Membership is plain Python sets: no channel-layer message or task per socket and event.

"Redis rings the bell, the database is the record": a lost doorbell (Redis restarted, a publish that
failed) is found by polling the rooms' heads every ``RT_POLL_SECONDS`` and fetching the missing
events once per room, not once per client.

One hub per event loop (tests run a loop per test); a worker process has one loop, hence one hub.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time

from django.conf import settings

from common import clock, metrics

from . import frames, hub_metrics, hubs
from .db import run_db
from .doorbell import control_channel, room_channel
from .gc_tuning import tune_gc
from .hub_presence import PresenceMixin

log = logging.getLogger(__name__)


class Item:
    """One event as the hub moves it: ordering fields and the frame text."""

    __slots__ = ("seq", "epoch", "stream", "sseq", "text")

    def __init__(self, seq: int, epoch: str, stream: str, sseq: int, text: str):
        self.seq, self.epoch, self.stream, self.sseq, self.text = seq, epoch, stream, sseq, text

    @classmethod
    def of(cls, record) -> "Item":
        return cls(record.seq, record.epoch, record.stream, record.sseq, record.frame_text())


class HubRoom:
    def __init__(self, key: str):
        self.key = key
        self.members: set = set()
        self.watching: set = set()  # the members that receive presence (doorbells must not scan all)
        self.ready = asyncio.Event()
        self.epoch: str | None = None
        self.delivered = 0
        self.early: list[Item] = []
        self.pending: dict[int, Item] = {}
        self.repairing = False
        self.repair_handle: asyncio.TimerHandle | None = None
        self.empty_since: float | None = None
        self.presence_handle: asyncio.TimerHandle | None = None
        self.presence_sent: dict = {}  # watcher → the presence text it was last sent


class Hub(PresenceMixin):
    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{id(loop):x}"
        self.rooms: dict[str, HubRoom] = {}
        self.conns: set = set()
        self.pubsub = None
        self.tasks: list[asyncio.Task] = []
        self.started = False
        self.ready = asyncio.Event()  # set once start() has connected the doorbells
        self.stats = {"events": 0, "deliveries": 0, "repairs": 0, "redis_reconnects": 0}
        self.presence_changes: list = []  # joins, leaves and closes, batched (presence.apply_changes)
        self.presence_task: asyncio.Task | None = None

    # --- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect the doorbells, once; every caller returns only when that is done. (A socket that
        went on while the first was still connecting to Redis joined its room with no pub/sub to
        subscribe it on, and that room's events then reached the worker only by polling.)"""
        if self.started:
            await self.ready.wait()
            return
        self.started = True
        try:
            if settings.RT_GC_TUNING:
                tune_gc()
            if settings.REDIS_URL:
                await self._connect_redis()
                self.tasks.append(self.loop.create_task(self._read_redis()))
            self.tasks.append(self.loop.create_task(self._maintain()))
        finally:
            self.ready.set()

    async def _connect_redis(self) -> None:
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2,
                                         health_check_interval=10)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        keys = list(self.rooms)
        await pubsub.subscribe(control_channel(), *[room_channel(k) for k in keys])
        self.pubsub = pubsub
        # Rooms joined while this connected (a reconnect) were subscribed on the old connection.
        joined = [k for k in self.rooms if k not in keys]
        if joined:
            await pubsub.subscribe(*[room_channel(k) for k in joined])

    async def _read_redis(self) -> None:
        while True:
            try:
                message = await self.pubsub.get_message(timeout=1.0)
                if message is not None and message["type"] == "message":
                    self.on_doorbell(message["data"].decode())
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Redis went away: reconnect, then repair
                log.warning("hub lost Redis (%s); reconnecting", exc)
                self.stats["redis_reconnects"] += 1
                await self._reconnect_redis()

    async def _reconnect_redis(self) -> None:
        while True:
            try:
                try:
                    await self.pubsub.aclose()
                except Exception:  # noqa: BLE001
                    pass
                await self._connect_redis()
                break
            except Exception:  # noqa: BLE001
                await asyncio.sleep(0.5)
        # Doorbells rung while we were away are lost; the database has the events.
        for room in list(self.rooms.values()):
            self._schedule_repair(room, 0)

    # --- membership --------------------------------------------------------------------------
    async def join(self, key: str, member) -> None:
        """Add ``member`` to ``key``; returns once the room's position is known, so any event after
        a database read the caller makes now reaches the member (buffered until it is ready)."""
        room = self.rooms.get(key)
        if room is None:
            room = self.rooms[key] = HubRoom(key)
            try:
                if self.pubsub is not None:
                    await self.pubsub.subscribe(room_channel(key))
                await self._load_head(room)
            except BaseException:
                self.rooms.pop(key, None)
                room.ready.set()
                raise
        await room.ready.wait()
        if member not in room.members:
            hub_metrics.joined(key)
        room.members.add(member)
        room.empty_since = None

    async def _load_head(self, room: HubRoom) -> None:
        from .log import room_head

        head = (await run_db(room_head, [room.key])).get(room.key)
        room.epoch, room.delivered = head if head else (None, 0)
        room.ready.set()
        early, room.early = room.early, []
        for item in sorted(early, key=lambda i: i.seq):
            self._on_event(room, item)

    def watch(self, key: str, member) -> None:
        """``member`` (already joined) receives presence summaries."""
        room = self.rooms.get(key)
        if room is not None and member in room.members:
            room.watching.add(member)
            # Its first view comes with the next push: the doorbell its join rang may have found
            # no watcher yet (the first in the room), and then no push would be due.
            self._schedule_presence(room)

    def leave(self, key: str, member) -> None:
        room = self.rooms.get(key)
        if room is not None:
            if member in room.members:
                hub_metrics.left(key)
            room.members.discard(member)
            room.watching.discard(member)
            if not room.members:
                room.empty_since = time.monotonic()

    def add_conn(self, conn) -> None:
        if conn not in self.conns:
            metrics.SOCKETS.inc()
        self.conns.add(conn)

    def remove_conn(self, conn) -> None:
        if conn in self.conns:
            metrics.SOCKETS.dec()
        self.conns.discard(conn)

    # --- doorbells ---------------------------------------------------------------------------
    def on_doorbell(self, data: str) -> None:
        header, _, frame = data.partition("\n")
        words = header.split(" ")
        kind = words[0]
        if kind == "c":
            self._on_control(words[1:])
            return
        room = self.rooms.get(words[1]) if len(words) > 1 else None
        if room is None:
            return
        if kind == "e":
            _, _, epoch, seq, stream, sseq = words
            item = Item(int(seq), epoch, stream, int(sseq), frame)
            if not room.ready.is_set():
                room.early.append(item)
            else:
                self._on_event(room, item)
        elif kind == "x":
            self._on_epoch(room, words[2])
        elif kind == "p":
            self._schedule_presence(room)

    def _on_event(self, room: HubRoom, item: Item) -> None:
        if room.epoch != item.epoch:
            if room.epoch is None:
                room.epoch = item.epoch  # the room was created after we subscribed
            else:
                # Either a new epoch (its 'x' doorbell may come later or be lost) or a stale
                # doorbell of an old one: the database decides.
                self._schedule_repair(room, 0)
                return
        if item.seq <= room.delivered:
            return
        if item.seq != room.delivered + 1:
            room.pending[item.seq] = item
            self._schedule_repair(room, settings.RT_REORDER_WAIT_SECONDS)
            return
        self._deliver(room, item)
        while room.delivered + 1 in room.pending:
            self._deliver(room, room.pending.pop(room.delivered + 1))

    def _deliver(self, room: HubRoom, item: Item) -> None:
        room.delivered = item.seq
        self.stats["events"] += 1
        for member in list(room.members):
            member.offer(item)
        self.stats["deliveries"] += len(room.members)
        hub_metrics.delivered(room.key, item.text)

    def _on_epoch(self, room: HubRoom, epoch: str) -> None:
        if room.epoch == epoch:
            return
        if room.epoch is None:  # the room did not exist when we subscribed: nothing to undo
            room.epoch = epoch
            return
        room.epoch, room.delivered = epoch, 0
        room.pending.clear()
        for member in list(room.members):
            member.resync("epoch")
        hub_metrics.left(room.key, len(room.members))
        room.members.clear()
        room.watching.clear()
        room.empty_since = time.monotonic()

    def _on_control(self, words: list[str]) -> None:
        if words[0] == "disconnect_user":
            user_id = int(words[1])
            for conn in list(self.conns):
                if conn.user_id == user_id:
                    conn.close(4401)
        elif words[0] == "revoke":
            room = self.rooms.get(words[1])
            user_id = int(words[2])
            if room is not None:
                for member in [m for m in room.members if m.conn.user_id == user_id]:
                    member.resync("access_revoked")
                    # Out of the room's presence too: a socket left open must not keep counting
                    # (a venue counts as present while an expert's socket is in its room).
                    self.leave_presence(member.conn.id, [room.key])

    # --- repair ------------------------------------------------------------------------------
    def _schedule_repair(self, room: HubRoom, delay: float) -> None:
        if room.repairing or room.repair_handle is not None:
            return
        room.repair_handle = self.loop.call_later(
            delay, lambda: self.loop.create_task(self._repair(room)))

    async def _repair(self, room: HubRoom) -> None:
        from .log import events_after, room_head

        room.repair_handle = None
        room.repairing = True
        try:
            head = (await run_db(room_head, [room.key])).get(room.key)
            if head is None:
                return
            epoch, last = head
            if epoch != room.epoch:
                self._on_epoch(room, epoch)
            while room.delivered < last:
                records = await run_db(events_after, room.key, room.epoch, room.delivered,
                                       limit=settings.RT_REPAIR_BATCH)
                if not records:
                    break
                self.stats["repairs"] += 1
                for record in records:
                    if record.seq == room.delivered + 1:
                        self._deliver(room, Item.of(record))
            for seq in [s for s in room.pending if s <= room.delivered]:
                del room.pending[seq]
            while room.delivered + 1 in room.pending:
                self._deliver(room, room.pending.pop(room.delivered + 1))
        except Exception:  # noqa: BLE001 - try again on the next poll
            log.exception("hub repair of %s failed", room.key)
        finally:
            room.repairing = False
        if room.pending:
            self._schedule_repair(room, settings.RT_REORDER_WAIT_SECONDS)

    # --- periodic work -----------------------------------------------------------------------
    async def _maintain(self) -> None:
        last_hb = time.monotonic()
        while True:
            await asyncio.sleep(settings.RT_POLL_SECONDS)
            try:
                await self._poll_heads()
                hub_metrics.sample_backlog(self.conns)
                now_m = time.monotonic()
                if now_m - last_hb >= settings.RT_HEARTBEAT_SECONDS:
                    last_hb = now_m
                    await self._heartbeat(now_m)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep the loop alive; the next round retries
                log.exception("hub maintenance")

    async def _poll_heads(self) -> None:
        from .log import room_head

        grace = settings.RT_ROOM_GRACE_SECONDS
        for key, room in list(self.rooms.items()):
            if room.empty_since is not None and time.monotonic() - room.empty_since > grace \
                    and not room.members:
                del self.rooms[key]
                if self.pubsub is not None:
                    try:
                        await self.pubsub.unsubscribe(room_channel(key))
                    except Exception:  # noqa: BLE001
                        pass
        active = [k for k, r in self.rooms.items() if r.ready.is_set()]
        if not active:
            return
        heads = await run_db(room_head, active)
        for key, (epoch, last) in heads.items():
            room = self.rooms.get(key)
            if room is not None and (epoch != room.epoch or last > room.delivered):
                self._schedule_repair(room, 0)

    async def _heartbeat(self, now_m: float) -> None:
        from .presence import do_refresh

        text = frames.dumps(frames.heartbeat(int(time.time() * 1000)))
        idle = settings.RT_CLIENT_IDLE_SECONDS
        for conn in list(self.conns):
            if now_m - conn.last_recv > idle:
                conn.close(4408)
            else:
                conn.send_text(text)
        await run_db(do_refresh, worker=self.worker, now=clock.now())
        for room in self.rooms.values():
            self._schedule_presence(room)

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        if self.pubsub is not None:
            try:
                await self.pubsub.aclose()
            except Exception:  # noqa: BLE001
                pass


async def get_hub() -> Hub:
    loop = asyncio.get_running_loop()
    hub = hubs.of_loop(loop)
    if hub is None:
        hub = hubs.add(loop, Hub(loop))
    await hub.start()
    return hub
