// Audio and video of a room (docs/media.md): the venues of an evaluation session see and hear each
// other, a hall's bidders watch and hear the host. The media run on the media server (Janus) through
// Janus's own client (vendored janus.js); this platform's socket only hands out the short-lived tokens
// (`media.token`, docs/protocol.md §3), asked again before every join since a room token is checked
// when a handle joins. Without a media server the panel says "video unavailable" and the page goes on.
import { COLON } from "./util.js";
import Janus from "../vendor/janus-gateway-1.1.4/dist/janus.es.js";

const PLUGIN = "janus.plugin.videoroom";
const RETRY_MS = 15000;

// janus.js reads only `browserDetails` of webrtc-adapter; modern browsers need none of its shims.
function browserDetails() {
  const ua = navigator.userAgent;
  const firefox = ua.match(/Firefox\/(\d+)/);
  if (firefox) return { browser: "firefox", version: Number(firefox[1]) };
  const chrome = ua.match(/Chrom(?:e|ium)\/(\d+)/);
  if (chrome) return { browser: "chrome", version: Number(chrome[1]) };
  const safari = ua.match(/Version\/(\d+).*Safari/);
  return safari ? { browser: "safari", version: 605 } : { browser: "unknown", version: 0 };
}

let initialised = null;
function initJanus() {
  initialised ||= new Promise((resolve) => {
    Janus.init({ debug: false, callback: resolve,
                 dependencies: Janus.useDefaultDependencies({ adapter: { browserDetails: browserDetails() } }) });
  });
  return initialised;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else if (k === "class") node.className = v;
    else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

// Start the media of `room` in `panel` (an element with `.media-status` and `.media-tiles` inside).
// `labels`: the page's media labels; `mixAudio`: publish the microphone through a WebAudio mix that
// `mixIn(audioElement)` adds to (the hall's host: the 唱标's speech). Returns a controller (also window.kbMedia, for diagnostics and
// the browser tests' frame checks).
export function startMedia({ client, room, panel, labels, mixAudio = false }) {
  const status = panel.querySelector(".media-status");
  const tiles = panel.querySelector(".media-tiles");
  const feeds = new Map(); // feed id → {handle, tile, video, stream, display}
  let janus = null;
  let grant = null;
  let publisher = null;
  let retry = null;
  let myFeed = null;
  let startedAt = 0; // performance.now() when start() asked for a token: join-to-first-frame

  const say = (text, state) => { status.textContent = text; panel.dataset.media = state; };

  async function token() {
    return client.command("media.token", room, {});
  }

  // The hall's sender is "host" on the media server; people read the label.
  const shown = (display) => (display === "host" ? labels.host : display);

  function tile(id, display, { local = false } = {}) {
    const video = el("video", { autoplay: "", playsinline: "", "data-feed": String(id) });
    video.muted = local; // never hear oneself
    const caption = el("figcaption", { text: local ? `${shown(display)} (${labels.you})` : shown(display) });
    const note = el("p", { class: "media-note", role: "status", hidden: "" });
    const figure = el("figure", { class: "media-tile", "data-feed": String(id) }, video, caption, note);
    tiles.append(figure);
    return { figure, video, note };
  }

  function dropped(id, text) {
    const feed = feeds.get(id);
    if (!feed) return;
    feed.tile.note.hidden = false;
    feed.tile.note.textContent = text;
    feed.tile.figure.dataset.dropped = "1";
  }

  function removeFeed(id) {
    const feed = feeds.get(id);
    if (!feed) return;
    dropped(id, `${shown(feed.display)}${COLON}${labels.dropped}`);
    try { feed.handle?.detach(); } catch (_) { /* already gone */ }
    feeds.delete(id);
    setTimeout(() => { if (!feeds.has(id)) feed.tile.figure.remove(); }, 8000);
    announceDrop(shown(feed.display));
  }

  function announceDrop(display) {
    const line = panel.querySelector(".media-alerts");
    if (line) line.textContent = `${display}${COLON}${labels.dropped}`;
  }

  async function subscribe(feed) {
    if (feeds.has(feed.id) || feed.id === myFeed) return;
    const entry = { display: feed.display, stream: new MediaStream(), handle: null, tile: tile(feed.id, feed.display),
                    firstFrameMs: null };
    entry.tile.video.srcObject = entry.stream;
    entry.tile.video.requestVideoFrameCallback?.(() => { entry.firstFrameMs = performance.now() - startedAt; });
    feeds.set(feed.id, entry);
    const fresh = await token();
    janus.attach({
      plugin: PLUGIN,
      success(handle) {
        entry.handle = handle;
        handle.send({ message: { request: "join", ptype: "subscriber", room: grant.media_room,
                                 streams: [{ feed: feed.id }], token: fresh.room_token } });
      },
      error() { dropped(feed.id, labels.failed); },
      onmessage(msg, jsep) {
        if (msg.error) { dropped(feed.id, labels.failed); return; }
        if (jsep) {
          entry.handle.createAnswer({
            jsep, tracks: [{ type: "data" }],
            success(answer) { entry.handle.send({ message: { request: "start", room: grant.media_room }, jsep: answer }); },
            error() { dropped(feed.id, labels.failed); },
          });
        }
      },
      onremotetrack(track, mid, on) {
        if (on) {
          entry.stream.getTracks().filter((t) => t.kind === track.kind).forEach((t) => entry.stream.removeTrack(t));
          entry.stream.addTrack(track);
          entry.tile.video.play().catch(() => { entry.tile.video.muted = true; panel.dataset.needsClick = "1"; });
          entry.tile.note.hidden = true;
          delete entry.tile.figure.dataset.dropped;
        } else {
          entry.stream.getTracks().filter((t) => t.id === track.id).forEach((t) => entry.stream.removeTrack(t));
        }
      },
      iceState(state) { if (state === "disconnected" || state === "failed") dropped(feed.id, `${shown(feed.display)}${COLON}${labels.dropped}`); },
      oncleanup() { /* the feed left; removeFeed shows it */ },
    });
  }

  function onPublishers(list) { for (const p of list || []) subscribe(p); }

  // The host's audio goes out through a WebAudio mix (microphone + whatever `mixIn` adds, the 唱标's
  // speech), so the hall and the server-side recording hear the announcement, not only the room.
  let mixer = null;
  const mixPending = [];
  async function mixedMicrophone() {
    const ctx = new AudioContext();
    const dest = ctx.createMediaStreamDestination();
    const mic = await navigator.mediaDevices.getUserMedia({ audio: true });
    ctx.createMediaStreamSource(mic).connect(dest);
    mixer = { ctx, dest, mic };
    document.addEventListener("click", () => ctx.resume(), { once: true });
    for (const element of mixPending.splice(0)) connectToMix(element);
    return dest.stream.getAudioTracks()[0];
  }
  function connectToMix(element) {
    const source = mixer.ctx.createMediaElementSource(element);
    source.connect(mixer.dest); // into the published stream (and so the recording)
    source.connect(mixer.ctx.destination); // and still out of the host's own speakers
    mixer.ctx.resume().catch(() => { /* resumed on the next click */ });
  }

  async function publish(handle) {
    let audio = true;
    if (mixAudio) {
      try { audio = await mixedMicrophone(); } catch (_) { audio = true; /* no WebAudio: the microphone alone */ }
    }
    handle.createOffer({
      tracks: [{ type: "audio", capture: audio, recv: false }, { type: "video", capture: true, recv: false }],
      success(jsep) { handle.send({ message: { request: "configure", audio: true, video: true }, jsep }); },
      error() { say(labels.no_camera, "no_camera"); },
    });
  }

  function attachPublisherHandle() {
    janus.attach({
      plugin: PLUGIN,
      success(handle) {
        publisher = handle;
        const body = { request: "join", ptype: "publisher", room: grant.media_room, display: grant.display,
                       token: grant.room_token };
        if (grant.publish && grant.feed) body.id = grant.feed; // the platform's sender id (the patrol checks it)
        handle.send({ message: body });
      },
      error() { fail(); },
      onmessage(msg, jsep) {
        if (msg.videoroom === "joined") {
          myFeed = msg.id;
          say(grant.publish ? labels.live : labels.watching, "live");
          if (grant.publish) publish(publisher);
          onPublishers(msg.publishers);
        } else if (msg.videoroom === "event") {
          if (msg.error_code) { say(`${labels.refused} (${msg.error_code})`, "refused"); return; }
          onPublishers(msg.publishers);
          const gone = msg.unpublished ?? msg.leaving;
          if (gone !== undefined && gone !== "ok") removeFeed(gone);
        }
        if (jsep) publisher.handleRemoteJsep({ jsep });
      },
      onlocaltrack(track, on) {
        if (!on || track.kind !== "video") return;
        let mine = tiles.querySelector("figure[data-local]");
        if (!mine) {
          const t = tile("local", grant.display, { local: true });
          t.figure.dataset.local = "1";
          t.video.srcObject = new MediaStream();
          mine = t.figure;
        }
        mine.querySelector("video").srcObject.addTrack(track);
      },
      iceState(state) {
        if (state === "disconnected" || state === "failed") say(labels.reconnecting, "reconnecting");
        else if (state === "connected") say(grant.publish ? labels.live : labels.watching, "live");
      },
    });
  }

  function fail() {
    say(labels.unavailable, "unavailable");
    try { janus?.destroy(); } catch (_) { /* gone */ }
    janus = null;
    for (const id of [...feeds.keys()]) { feeds.get(id).tile.figure.remove(); feeds.delete(id); }
    clearTimeout(retry);
    retry = setTimeout(start, RETRY_MS);
  }

  async function start() {
    if (janus) return;
    startedAt = performance.now();
    say(labels.connecting, "connecting");
    try {
      grant = await token();
    } catch (err) {
      if (err.code === "forbidden") { panel.hidden = true; return; }
      fail();
      return;
    }
    await initJanus();
    if (!Janus.isWebrtcSupported()) { say(labels.unavailable, "unavailable"); return; }
    janus = new Janus({
      server: grant.server, token: grant.session_token, iceServers: grant.ice_servers,
      success: attachPublisherHandle,
      error() { fail(); },
      destroyed() { /* closed by us */ },
    });
  }

  const controller = {
    start,
    grant: () => grant,
    // Add an <audio> element's sound to what this page publishes (with `mixAudio`); once per element.
    mixIn(element) {
      if (!mixAudio || element.dataset.mixed) return;
      element.dataset.mixed = "1";
      if (mixer) connectToMix(element); else mixPending.push(element);
    },
    // For diagnostics and the bench: what this page sends (video frames and bytes, audio bytes, the
    // key frames and picture-loss requests, why the encoder holds back).
    async sent() {
      const pc = publisher?.webrtcStuff?.pc;
      const out = { framesSent: 0, videoBytes: 0, audioBytes: 0, keyFrames: 0, pli: 0, limitation: "", width: 0 };
      if (!pc) return out;
      (await pc.getStats()).forEach((r) => {
        if (r.type !== "outbound-rtp") return;
        if (r.kind === "audio") { out.audioBytes += r.bytesSent || 0; return; }
        out.framesSent += r.framesSent || 0; out.videoBytes += r.bytesSent || 0;
        out.keyFrames += r.keyFramesEncoded || 0; out.pli += r.pliCount || 0;
        out.limitation = r.qualityLimitationReason || ""; out.width = r.frameWidth || out.width;
      });
      return out;
    },
    // For diagnostics and the browser tests: per remote feed, whether video frames are decoded and
    // audio samples arrive, and the mean brightness of a frame (not black).
    async stats() {
      const out = [];
      for (const [id, feed] of feeds) {
        const pc = feed.handle?.webrtcStuff?.pc;
        let framesDecoded = 0; let audioSamples = 0;
        if (pc) {
          (await pc.getStats()).forEach((r) => {
            if (r.type === "inbound-rtp" && r.kind === "video") framesDecoded += r.framesDecoded || 0;
            if (r.type === "inbound-rtp" && r.kind === "audio") audioSamples += r.totalSamplesReceived || 0;
          });
        }
        out.push({ id, display: feed.display, framesDecoded, audioSamples, brightness: brightness(feed.tile.video),
                   firstFrameMs: feed.firstFrameMs });
      }
      return out;
    },
  };
  window.kbMedia = controller;
  return controller;
}

function brightness(video) {
  if (!video.videoWidth) return 0;
  const canvas = document.createElement("canvas");
  canvas.width = 32; canvas.height = 24;
  const g = canvas.getContext("2d", { willReadFrequently: true });
  g.drawImage(video, 0, 0, canvas.width, canvas.height);
  const px = g.getImageData(0, 0, canvas.width, canvas.height).data;
  let sum = 0;
  for (let i = 0; i < px.length; i += 4) sum += (px[i] + px[i + 1] + px[i + 2]) / 3;
  return sum / (px.length / 4);
}
