// The supervisors' recordings page (docs/media.md, "Recordings"): play a segment (converted on the
// server, served with the audit API's access check) and mark the audit entries within a minute of
// the moment played; the moment is shown in Beijing time.
const NEAR_MS = 60_000;
const BEIJING_MS = 8 * 3600_000;
const labels = JSON.parse(document.getElementById("recording-labels").textContent);
const box = document.getElementById("player");
const video = document.getElementById("player-video");
const audio = document.getElementById("player-audio");
const position = document.getElementById("position");
const failed = document.getElementById("player-error");
const nowPlaying = document.getElementById("now-playing");
const rows = [...document.querySelectorAll("#moment-entries tr[data-at]")];
let current = null; // {element, start}

const fill = (text, values) => text.replace(/%\((\w+)\)s/g, (_, k) => String(values[k]));

// 2026年12月03日 15:12:00 (zh) or 2026-12-03 15:12:00 (en), as the server's Beijing formatter writes.
function beijing(ms) {
  const [date, time] = new Date(ms + BEIJING_MS).toISOString().slice(0, 19).split("T");
  const [y, m, d] = date.split("-");
  return (document.documentElement.lang || "zh-hans").toLowerCase().startsWith("zh")
    ? `${y}年${m}月${d}日 ${time}` : `${date} ${time}`;
}

function mark() {
  if (!current) return;
  const moment = current.start + Math.round(current.element.currentTime * 1000);
  let nearest = null; let best = Infinity; let count = 0;
  for (const row of rows) {
    const distance = Math.abs(Number(row.dataset.at) - moment);
    const near = distance <= NEAR_MS;
    row.classList.toggle("near", near);
    row.removeAttribute("aria-current");
    if (near) count += 1;
    if (distance < best) { best = distance; nearest = row; }
  }
  if (nearest && best <= NEAR_MS) {
    nearest.setAttribute("aria-current", "time");
    const scroller = document.getElementById("entries-box");
    scroller.scrollTop = nearest.offsetTop - scroller.clientHeight / 2;
  }
  box.dataset.moment = String(moment);
  position.textContent = `${fill(labels.position, { time: beijing(moment) })} · ${fill(labels.nearby, { count })}`;
}

function play(button) {
  const element = button.dataset.kind === "video" ? video : audio;
  const other = element === video ? audio : video;
  other.pause(); other.hidden = true; other.removeAttribute("src");
  failed.hidden = true;
  box.hidden = false;
  element.hidden = false;
  nowPlaying.textContent = fill(labels.now_playing, { name: button.dataset.name });
  current = { element, start: Number(button.dataset.start) };
  element.src = button.dataset.play;
  element.play().catch(() => { /* the controls let the supervisor start it */ });
  mark();
}

for (const button of document.querySelectorAll("button[data-play]")) button.addEventListener("click", () => play(button));
for (const element of [video, audio]) {
  for (const kind of ["timeupdate", "seeked", "loadeddata"]) element.addEventListener(kind, mark);
  element.addEventListener("error", () => { failed.textContent = labels.failed; failed.hidden = false; });
}
