// The real-time client (docs/protocol.md): one socket, rooms joined with the positions held,
// replay or snapshot on every (re)connect, gap detection per stream, server-time sync, and a
// connection state the page always shows. Nothing is lost on screen when the socket drops: the
// rejoin replays what was missed, or a snapshot replaces the state.

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 10000;

export class RealtimeClient extends EventTarget {
  constructor(url = defaultUrl()) {
    super();
    this.url = url;
    this.ws = null;
    this.state = "connecting";
    this.rooms = new Map(); // key → {handler, epoch, positions: {stream: seq}}
    this.pending = new Map(); // command id → {resolve, reject}
    this.n = 0;
    this.offsetMs = 0; // server time − local time
    this.backoff = BACKOFF_MIN_MS;
    this.closedForGood = false;
  }

  now() { return new Date(Date.now() + this.offsetMs); }

  setState(state, detail = {}) {
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: { state, ...detail } }));
  }

  connect() {
    this.setState(this.ws ? "reconnecting" : "connecting");
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onmessage = (msg) => this.onFrame(JSON.parse(msg.data));
    ws.onclose = (ev) => this.onClose(ev);
    return this;
  }

  onClose(ev) {
    for (const { reject } of this.pending.values()) reject(new Error("connection lost"));
    this.pending.clear();
    if (ev.code === 4401) { this.closedForGood = true; this.setState("signed_out"); return; }
    if (this.closedForGood) return;
    this.setState("reconnecting");
    const wait = this.backoff * (0.75 + Math.random() * 0.5);
    this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX_MS);
    setTimeout(() => this.connect(), wait);
  }

  async onHello() {
    this.backoff = BACKOFF_MIN_MS;
    await this.syncTime();
    let resynced = false;
    for (const key of this.rooms.keys()) resynced = (await this.rejoin(key)) || resynced;
    this.setState(resynced ? "resynced" : "connected");
  }

  async syncTime() {
    const sent = Date.now();
    const reply = await this.command("time.sync", "", { client_sent: sent });
    const received = Date.now();
    this.offsetMs = reply.server_ms - (sent + received) / 2;
  }

  onFrame(frame) {
    if (frame.hello) { this.onHello(); return; }
    if (frame.hb !== undefined) { this.send({ v: 1, id: `p${++this.n}`, cmd: "ping", payload: {} }); return; }
    if (frame.id !== undefined && frame.id !== null && this.pending.has(frame.id)) {
      const { resolve, reject } = this.pending.get(frame.id);
      this.pending.delete(frame.id);
      if (frame.ok) resolve(frame.payload);
      else reject(Object.assign(new Error(frame.error.message), frame.error));
      return;
    }
    if (frame.resync) { if (frame.room) this.rejoin(frame.room); return; }
    if (frame.presence) { this.roomHandler(frame.room)?.onPresence?.(frame.presence); return; }
    if (frame.event !== undefined) this.onPush(frame);
  }

  roomHandler(key) { return this.rooms.get(key)?.handler; }

  onPush(frame) {
    const room = this.rooms.get(frame.room);
    if (!room) return;
    if (room.joining) { room.buffer.push(frame); return; }
    if (frame.epoch !== room.epoch) { this.rejoin(frame.room); return; }
    const held = room.positions[frame.stream] || 0;
    if (frame.seq <= held) return; // already have it (covered by a replay or a snapshot)
    if (frame.seq !== held + 1) { this.rejoin(frame.room); return; } // a gap: ask again
    room.positions[frame.stream] = frame.seq;
    room.handler.onEvent?.(frame);
  }

  send(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  command(cmd, room = "", payload = {}) {
    const id = `c${++this.n}`;
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) { reject(new Error("not connected")); return; }
      this.pending.set(id, { resolve, reject });
      this.send({ v: 1, id, cmd, room, payload });
    });
  }

  async join(key, handler) {
    this.rooms.set(key, { handler, epoch: null, positions: {}, joining: false, buffer: [] });
    if (this.ws && this.ws.readyState === WebSocket.OPEN) await this.rejoin(key);
  }

  // Returns true when the state was replaced by a snapshot (the page shows "resynced").
  async rejoin(key) {
    const room = this.rooms.get(key);
    if (!room || room.joining) return false;
    room.joining = true;
    room.buffer = [];
    const wasJoined = Boolean(room.epoch);
    try {
      const payload = wasJoined ? { epoch: room.epoch, last_seq: room.positions } : {};
      const reply = await this.command("room.join", key, payload);
      room.epoch = reply.epoch;
      if (reply.mode === "snapshot") {
        room.positions = { ...reply.positions };
        room.handler.onSnapshot?.(reply.snapshot, reply);
      } else {
        room.positions = { ...room.positions, ...reply.positions };
      }
      room.handler.onJoined?.(reply);
      return wasJoined && reply.mode === "snapshot";
    } catch (err) {
      room.handler.onError?.(err);
      return false;
    } finally {
      room.joining = false;
      const buffered = room.buffer;
      room.buffer = [];
      for (const frame of buffered) this.onPush(frame);
    }
  }
}

function defaultUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws/v1/`;
}

// A badge element showing the connection state, in the page's language.
export function connectionBadge(client, element, labels) {
  client.addEventListener("state", (ev) => {
    element.dataset.state = ev.detail.state;
    element.textContent = labels[ev.detail.state] || ev.detail.state;
  });
}
