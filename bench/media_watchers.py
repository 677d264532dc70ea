"""One process of the hall's headless watchers (``bench.bench_media``, "200 watchers"): ``N``
aiortc peer connections subscribed to one sender of a Janus VideoRoom, each over its own Janus
session and WebSocket, as a bidder's page would. The watchers count what arrives — encoded video
frames, audio frames, their payload bytes, RTP packets — without decoding (aiortc's decoder thread is
replaced by a counter: 200 VP8 decoders in Python would measure this machine's Python, not the
media server). Protocol on stdin/stdout, one JSON line each: it prints ``{"ready": connected}``,
then on ``start`` resets its counters, on ``stop`` prints the counts and exits.

    python -m bench.media_watchers WS_URL SESSION_TOKEN ROOM_TOKEN ROOM FEED N
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time

COUNTS = {"video_frames": 0, "audio_frames": 0, "bytes": 0, "rtp_packets": 0}
PER_PC: dict[int, int] = {}
LOCK = threading.Lock()


def counting_worker(loop, input_q, output_q, decode_error) -> None:
    """Stands in for aiortc's ``decoder_worker``: counts the encoded frames instead of decoding."""
    while True:
        task = input_q.get()
        if task is None:
            break
        codec, frame = task
        with LOCK:
            COUNTS["video_frames" if codec.mimeType.lower().startswith("video/") else "audio_frames"] += 1
            COUNTS["bytes"] += len(frame.data)
            PER_PC[id(output_q)] = PER_PC.get(id(output_q), 0) + 1


async def main(ws_url: str, session_token: str, room_token: str, room: str, feed: str, n: int) -> None:
    import aiortc.rtcrtpreceiver

    from tests.janus_client import JanusWs, subscribe

    aiortc.rtcrtpreceiver.decoder_worker = counting_worker
    handle = aiortc.rtcrtpreceiver.RTCRtpReceiver._handle_rtp_packet

    async def counted(self, packet, arrival_time_ms):
        COUNTS["rtp_packets"] += 1  # the event loop's thread only
        return await handle(self, packet, arrival_time_ms)

    aiortc.rtcrtpreceiver.RTCRtpReceiver._handle_rtp_packet = counted
    clients = []

    async def one():
        janus = await JanusWs.open(ws_url, session_token)
        pc = await subscribe(janus, room, room_token, feed)
        clients.append((janus, pc))

    for first in range(0, n, 10):
        results = await asyncio.gather(*(one() for _ in range(min(10, n - first))), return_exceptions=True)
        for r in results:
            if isinstance(r, Exception):
                print(json.dumps({"error": repr(r)[:300]}), file=sys.stderr, flush=True)
    end = time.monotonic() + 60
    while time.monotonic() < end and any(pc.connectionState != "connected" for _, pc in clients):
        await asyncio.sleep(0.5)
    connected = sum(pc.connectionState == "connected" for _, pc in clients)
    print(json.dumps({"ready": connected, "asked": n}), flush=True)
    loop = asyncio.get_running_loop()
    assert (await loop.run_in_executor(None, sys.stdin.readline)).strip() == "start"
    with LOCK:
        COUNTS.update(video_frames=0, audio_frames=0, bytes=0, rtp_packets=0)
        PER_PC.clear()
    t0 = time.monotonic()
    await loop.run_in_executor(None, sys.stdin.readline)  # "stop"
    elapsed = time.monotonic() - t0
    with LOCK:
        counts, receiving = dict(COUNTS), sum(1 for v in PER_PC.values() if v > 0)
    print(json.dumps({**counts, "seconds": elapsed, "connected": connected,
                      "tracks_receiving": receiving}), flush=True)
    for janus, pc in clients:
        await pc.close()
    await asyncio.gather(*(janus.close() for janus, _ in clients), return_exceptions=True)


if __name__ == "__main__":
    ws, st, rt, room, feed, n = sys.argv[1:7]
    asyncio.run(main(ws, st, rt, room, feed, int(n)))
