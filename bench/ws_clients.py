"""A load-generating process: many WebSocket clients on one asyncio loop (keep it light: 2 cores).

argv[1] is a JSON config: url (or urls, cycled over the clients), origin, cookies (cycled), n, rooms
(cycled), start (index offset), concurrency (handshakes at once, default 40), storm_concurrency
(handshakes at once when reconnecting after DROP, default 1000).

Prints ``READY <joined> <errors>`` when every client has joined. Commands on stdin:

- ``DROP``: every client aborts its TCP connection at once (no closing handshake, as a network
  failure would) and reconnects immediately, joining with the positions and epoch it holds; prints
  ``DROPPED <time>``, then ``REJOINED <time>`` once every client has rejoined (its join reply, which
  follows the replay, received). Each rejoin's reply time and mode are recorded.
- ``UPTO <seq>``: waits (at most 30 s) until every client holds ``seq`` of the ``all`` stream;
  prints ``UPTO <clients holding it> <time>`` (the bench asks once the host's last event is known,
  so a slow tail shows as late, not as missing).
- ``STOP``: prints a JSON summary and exits: per (room, seq) the last arrival time and the number of
  arrivals, the gaps/repeats seen, the deliveries counted, and the rejoin times after a DROP.

TLS (``wss://``) as a browser does it: one TLS configuration for every connection (websockets
otherwise builds a fresh default context, CA store and all, for each one), and each client resumes
its own previous session on reconnecting (the TLS 1.3 ticket, or TLS 1.2 session id, it was given):
an abbreviated handshake with no certificate sent or verified. ``tls_resumed``/``tls_full`` count
the handshakes of each kind (``"tls_resume": false`` in the config, or ``BENCH_TLS_RESUME=0``,
turns resumption off: every reconnect a full handshake, as the clients did before).
"""

import asyncio
import contextvars
import json
import os
import random
import ssl
import sys
import time

from websockets.asyncio.client import connect

STATE = {"last": {}, "count": {}, "gaps": 0, "repeats": 0, "resyncs": 0, "closed": 0, "errors": 0,
         "joined": 0, "deliveries": 0, "rejoined": [], "rejoin_modes": {}, "replayed": 0,
         "final": {}, "drop_at": None, "retries": 0,
         "retry_reasons": {}, "tls_resumed": 0, "tls_full": 0}
SOCKETS: dict[int, object] = {}
HOLDERS: dict[int, "Holder"] = {}


# The session the connecting client offers: the TLS object is made inside the connect call, in the
# client's own task, so a context variable carries the session there.
_OFFER: contextvars.ContextVar = contextvars.ContextVar("tls_session", default=None)


class ResumingContext(ssl.SSLContext):
    """An SSLContext whose client connections offer the calling client's previous session."""

    def wrap_bio(self, incoming, outgoing, server_side=False, server_hostname=None, session=None):
        return super().wrap_bio(incoming, outgoing, server_side=server_side, server_hostname=server_hostname,
                                session=session or _OFFER.get())


def tls_context() -> ssl.SSLContext:
    ctx = ResumingContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the certificate and the host name
    ctx.load_default_certs()  # SSL_CERT_FILE: bench/proxy.py points it at the proxy's certificate
    return ctx


class Holder:
    """One client's view: its position in the room's ``all`` stream and the epoch, and the TLS
    session it was last given."""

    def __init__(self):
        self.held = 0
        self.epoch = None
        self.tls_session = None

    def take(self, room: str, frame: dict, now: float) -> None:
        seq = frame["seq"]
        if seq == self.held + 1:
            self.held = seq
        elif seq <= self.held:
            STATE["repeats"] += 1
            return
        else:
            STATE["gaps"] += 1
            self.held = seq
        key = f"{room}|{seq}"
        STATE["last"][key] = now
        STATE["count"][key] = STATE["count"].get(key, 0) + 1
        STATE["deliveries"] += 1


async def session(i: int, cfg: dict, h: Holder, gate: asyncio.Semaphore, rejoin: bool) -> object:
    """Connect and join (with positions when ``rejoin``); returns the open socket."""
    urls = cfg.get("urls") or [cfg["url"]]
    room = cfg["rooms"][i % len(cfg["rooms"])]
    headers = {}
    if cfg.get("cookies"):
        headers["Cookie"] = "sessionid=" + cfg["cookies"][i % len(cfg["cookies"])]
    url = urls[i % len(urls)]
    tls = {"ssl": cfg["_tls"]} if url.startswith("wss:") else {}
    async with gate:
        _OFFER.set(h.tls_session if cfg["_resume"] else None)
        ws = await connect(url, origin=cfg["origin"], additional_headers=headers, compression=None,
                           max_size=2**22, open_timeout=120, ping_interval=None, close_timeout=1, proxy=None,
                           **tls)
        SOCKETS[i] = ws
        json.loads(await ws.recv())  # hello
        tls_object = ws.transport.get_extra_info("ssl_object") if tls else None
        if tls_object is not None:
            STATE["tls_resumed" if tls_object.session_reused else "tls_full"] += 1
            h.tls_session = tls_object.session  # a TLS 1.3 ticket arrives after the handshake: read by now
        payload = {"last_seq": {"all": h.held}, "epoch": h.epoch} if rejoin and h.epoch else {}
        await ws.send(json.dumps({"v": 1, "id": "j", "cmd": "room.join", "room": room, "payload": payload}))
        while True:
            frame = json.loads(await ws.recv())
            if frame.get("id") == "j":
                body = frame["payload"]
                if body["mode"] == "snapshot":
                    h.held = body["positions"].get("all", 0)
                h.epoch = body.get("epoch")
                if rejoin:
                    STATE["rejoined"].append(time.time())
                    if len(STATE["rejoined"]) == cfg["n"]:
                        print("REJOINED", STATE["rejoined"][-1], flush=True)
                    STATE["rejoin_modes"][body["mode"]] = STATE["rejoin_modes"].get(body["mode"], 0) + 1
                    STATE["replayed"] += body.get("replayed", 0)
                return ws
            if frame.get("seq") is not None:
                h.take(room, frame, time.time())  # replayed before the reply, in order


async def resume(i: int, cfg: dict, h: Holder, gate: asyncio.Semaphore) -> object:
    """Reconnect as docs/protocol.md §1 says a client should: on failure retry after 0.5 s doubling
    to 10 s, with jitter; give up after 120 s."""
    delay, give_up = 0.5, time.time() + 120
    while True:
        try:
            return await session(i, cfg, h, gate, True)
        except Exception as exc:  # noqa: BLE001 - refused or timed out handshake: back off, retry
            if time.time() > give_up:
                raise
            STATE["retries"] += 1
            why = getattr(getattr(exc, "response", None), "status_code", None) or type(exc).__name__
            STATE["retry_reasons"][str(why)] = STATE["retry_reasons"].get(str(why), 0) + 1
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(10.0, delay * 2)


async def client(i: int, cfg: dict, ready: asyncio.Event, gates: dict) -> None:
    room = cfg["rooms"][i % len(cfg["rooms"])]
    h = HOLDERS[i] = Holder()
    rejoin = False
    try:
        while True:
            if rejoin:
                ws = await resume(i, cfg, h, gates["storm"])
            else:
                ws = await session(i, cfg, h, gates["start"], False)
            if not rejoin:
                STATE["joined"] += 1
                if STATE["joined"] == cfg["n"]:
                    ready.set()
            try:
                async for message in ws:
                    frame = json.loads(message)
                    if frame.get("seq") is None:
                        if "resync" in frame:
                            STATE["resyncs"] += 1
                        continue
                    h.take(room, frame, time.time())
            except Exception:  # noqa: BLE001 - aborted by DROP (or by the server): maybe resume
                pass
            if STATE["drop_at"] is not None and not rejoin:
                rejoin = True
                continue
            STATE["closed"] += 1
            return
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001
        STATE["errors"] += 1
        if STATE["errors"] < 3:
            print(f"client {i}: {exc!r}", file=sys.stderr)
        if STATE["joined"] + STATE["errors"] >= cfg["n"]:
            ready.set()
    finally:
        STATE["final"][str(i)] = h.held


async def main() -> None:
    cfg = json.loads(sys.argv[1])
    cfg["_tls"] = tls_context()
    cfg["_resume"] = cfg.get("tls_resume", os.environ.get("BENCH_TLS_RESUME", "1") != "0")
    ready = asyncio.Event()
    gates = {"start": asyncio.Semaphore(cfg.get("concurrency", 40)),
             "storm": asyncio.Semaphore(cfg.get("storm_concurrency", 1000))}
    first = cfg.get("start", 0)
    tasks = [asyncio.create_task(client(first + i, cfg, ready, gates)) for i in range(cfg["n"])]
    await ready.wait()
    print("READY", STATE["joined"], STATE["errors"], flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
        if line == "DROP":
            STATE["drop_at"] = time.time()
            for ws in list(SOCKETS.values()):
                ws.transport.abort()
            print("DROPPED", STATE["drop_at"], flush=True)
        elif line.startswith("UPTO "):
            seq, end = int(line.split()[1]), time.time() + 30
            while time.time() < end and any(h.held < seq for h in HOLDERS.values()):
                await asyncio.sleep(0.05)
            print("UPTO", sum(1 for h in HOLDERS.values() if h.held >= seq), time.time(), flush=True)
        else:
            break
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(json.dumps(STATE), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
