// The job page: live stage, progress and elapsed time, then the video; cancel, retry, share.
import { api } from "./api.js";
import { LiveSocket } from "./live.js";
import { clock, describe, duration, fromRest, hideBrokenImages, TERMINAL } from "./stage.js";
import { forwardToBell } from "./bell.js";

const root = document.querySelector("[data-job]");
const el = (name) => root.querySelector(`[data-${name}]`);
const STEP = { queued: 0, dispatching: 1, submitted: 1, warming: 1, rendering: 2, saving: 3, succeeded: 4 };
let state = JSON.parse(document.getElementById("job-state").textContent);
let lastSeq = state.seq;
let announcedStatus = null;
let etaAt = null;    // when the latest ETA says the video is ready; counted down between updates
let noteTimer;
let retrying = false;  // back in line after a provider gave up mid-job (failover), until re-sent
const RANK = { queued: 0, dispatching: 1, submitted: 2, warming: 3, rendering: 4, saving: 5 };
const RESTARTING = new Set(["queued", "dispatching", "submitted", "warming"]);

// Back to an earlier stage after a provider gave up mid-job (failover): say so until the new
// attempt renders, rather than jumping from "Rendering 44 %" back to "Starting up". Works from
// whatever this page saw (live events, a snapshot after a reconnect, or polling). A job that was
// only being sent (a 429 from the provider) goes back in line silently.
function trackRetry(previous, next) {
  if (previous === next) return;
  if (RESTARTING.has(next) && RANK[previous] >= RANK.submitted && RANK[next] < RANK[previous]) retrying = true;
  else if (!RESTARTING.has(next)) retrying = false;
}
const history = [];  // statuses in the order this page showed them
let socket;

function merge(update) {
  const next = { ...state };
  for (const key of ["status", "stage", "progress", "eta_seconds", "video_url", "error", "finished_at"]) {
    if (update[key] !== undefined) next[key] = update[key];
  }
  // A job event for a queued job carries no position; the next queue.position message does.
  if (update.queue_position != null || next.status !== "queued") next.queue_position = update.queue_position ?? null;
  if (next.status === "queued" && update.eta_seconds == null) next.eta_seconds = state.eta_seconds;
  if (TERMINAL.has(next.status) && !next.finished_at) next.finished_at = new Date().toISOString();
  if (update.eta_seconds != null || next.status !== state.status) setEta(next);
  trackRetry(state.status, next.status);
  state = next;
  render();
}

let etaStatus = null;  // the status the current estimate was made for
function setEta(s) {
  if (s.eta_seconds == null || TERMINAL.has(s.status)) {
    etaAt = null;
  } else {
    // The server never raises a promise without a new cause, but floors one that has run out at
    // 1 s; counted here, it stays run out ("Taking a little longer") until the job moves on. A
    // second later across a stage change is rounding (whole seconds, received later), not news.
    const at = Date.now() + s.eta_seconds * 1000;
    const later = etaAt != null && at > etaAt;
    etaAt = later && (etaStatus === s.status || at - etaAt < 1500) ? etaAt : at;
  }
  etaStatus = s.status;
}

// Seconds left by the latest estimate, counted down locally (≤ 0: the estimate has run out).
function etaLeft() {
  return etaAt == null ? null : Math.round((etaAt - Date.now()) / 1000);
}

function onMessage(message) {
  switch (message.type) {
    case "snapshot":
      lastSeq = message.job.seq;
      trackRetry(state.status, message.job.status);
      state = message.job;
      setEta(state);
      render();
      break;
    case "job.event":
      if (message.seq <= lastSeq) return;  // replays the snapshot already covers
      lastSeq = message.seq;
      merge(message);
      break;
    case "queue.position":
      if (state.status === "queued") merge(message);
      break;
  }
  forwardToBell(message);
}

function render() {
  const { status } = state;
  const terminal = TERMINAL.has(status);
  root.dataset.status = status;
  root.classList.toggle("terminal", terminal);
  const left = etaLeft();
  const text = stageText(left);
  if (el("stage").textContent !== text) el("stage").textContent = text;
  if (announcedStatus !== status) {  // one announcement per stage, not per percent
    announcedStatus = status;
    history.push(status);
    if (el("announce").textContent !== text) el("announce").textContent = text;
    document.title = `${text} · Surge`;
  }
  const percent = Math.round((state.progress || 0) * 100);
  el("progress-bar").style.width = `${status === "succeeded" ? 100 : percent}%`;
  el("progress").setAttribute("aria-valuenow", String(status === "succeeded" ? 100 : percent));
  el("detail").textContent = detail(state, left);
  const current = STEP[status] ?? -1;
  for (const step of root.querySelectorAll("[data-step]")) {
    const index = STEP[step.dataset.step];
    step.classList.toggle("done", index < current || status === "succeeded");
    step.classList.toggle("current", index === current && status !== "succeeded");
  }
  const error = el("error");
  error.hidden = status !== "failed";
  if (status === "failed") {
    error.textContent = state.error?.message || "The renderer could not finish your video. Retrying usually works.";
  }
  el("cancel").hidden = terminal;
  el("retry").hidden = !(status === "failed" || status === "canceled");
  el("another").hidden = !terminal;
  showVideo();
  if (terminal) socket?.stopPolling();
}

function stageText(left) {
  if (retrying && RESTARTING.has(state.status) && state.status !== "warming") return "Hit a snag — trying again";
  return describe({ ...state, eta_seconds: left != null && left > 0 ? left : null });
}

function detail(s, left) {
  if (retrying && s.status === "queued") return "The renderer stopped; you keep your place at the front of the line";
  if (s.status === "queued") return s.queue_position === 0 ? "You're next" : "Waiting for a free renderer";
  if (s.status === "succeeded") return "Done";
  if (TERMINAL.has(s.status)) return "";
  if (left == null) return "Working on it";
  if (left > 0) return `About ${duration(left)} left`;
  return left > -20 ? "Almost there" : "Taking a little longer than usual";
}

function showVideo() {
  const video = el("video");
  const ready = state.status === "succeeded" && state.video_url;
  el("download").hidden = el("share").hidden = !ready;
  if (!ready || video.dataset.src === state.video_url) return;
  video.dataset.src = state.video_url;
  video.src = state.video_url;
  video.addEventListener("loadeddata", () => {
    video.hidden = false;  // fades in over the render visual, in the same box: no layout shift
    setTimeout(() => { el("visual").hidden = true; }, 700);
  }, { once: true });
  // Muted autoplay, unless the user asked for less motion: then it waits for the play button.
  if (!matchMedia("(prefers-reduced-motion: reduce)").matches) video.play().catch(() => {});
}

function tick() {
  const since = Date.parse(state.created_at);
  const until = state.finished_at ? Date.parse(state.finished_at) : Date.now();
  el("elapsed").textContent = clock((until - since) / 1000);
  if (etaAt != null && !TERMINAL.has(state.status)) {
    const left = etaLeft();
    const text = stageText(left);
    if (el("stage").textContent !== text) el("stage").textContent = text;
    el("detail").textContent = detail(state, left);
  }
}

// A short confirmation under the buttons (and for screen readers), gone after a few seconds.
function note(text) {
  el("note").textContent = text;
  el("announce").textContent = text;
  clearTimeout(noteTimer);
  noteTimer = setTimeout(() => { el("note").textContent = ""; }, 6000);
}

async function act(button, path) {
  button.disabled = true;
  try {
    return await api(path, { method: "POST" });
  } catch (error) {
    el("error").hidden = false;
    el("error").textContent = error.message;
  } finally {
    button.disabled = false;
  }
}

el("cancel").addEventListener("click", async (event) => {
  const job = await act(event.currentTarget, `/api/v1/jobs/${state.job_id}/cancel/`);
  if (job) merge(fromRest(job));
});

el("retry").addEventListener("click", async (event) => {
  const job = await act(event.currentTarget, `/api/v1/jobs/${state.job_id}/retry/`);
  if (job) location.assign(job.page_url);
});

// The public page (/v/…): made on the first Share, shown with a way to turn it off.
function showShared(url) {
  root.dataset.shareUrl = url || "";
  el("shared").hidden = !url;
  el("share-link").href = el("share-link").textContent = url || "";
}

async function shareUrl(button) {
  if (!root.dataset.shareUrl) {
    const result = await act(button, `/api/v1/jobs/${state.job_id}/share/`);
    if (!result) return null;
    showShared(result.share_url);
  }
  return root.dataset.shareUrl;
}

el("share").addEventListener("click", async (event) => {
  const url = await shareUrl(event.currentTarget);
  if (!url) return;
  if (navigator.share) {  // phones: the share sheet (chats, stories, messages)
    try {
      await navigator.share({ title: "My Surge video", url });
      return;
    } catch (error) {
      if (error.name === "AbortError") return;
      // NotAllowedError: the tap's activation ran out while the link was made; copy instead.
    }
  }
  try {
    await navigator.clipboard.writeText(url);
    note("Link copied. Anyone with it can watch; stop sharing any time.");
  } catch {
    note("Copy your link: it is shown under the buttons.");
  }
});

el("unshare").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  button.disabled = true;
  try {
    await api(`/api/v1/jobs/${state.job_id}/share/`, { method: "DELETE" });
    showShared("");
    note("Sharing is off: the link no longer works.");
  } catch (error) {
    note(error.message);
  } finally {
    button.disabled = false;
  }
});

hideBrokenImages();
setEta(state);
render();
tick();
setInterval(tick, 1000);
socket = new LiveSocket({
  path: root.dataset.socketUrl,
  resumeAfter: () => lastSeq,
  onMessage,
  onStatus: (status) => {
    el("connection").textContent = { live: "", reconnecting: "Reconnecting…",
      polling: "Live updates paused — checking every few seconds" }[status] ?? "";
  },
  poll: async () => {
    if (TERMINAL.has(state.status)) return;
    merge(fromRest(await api(root.dataset.statusUrl)));
  },
}).start();
window.surgeJob = { history, get state() { return state; }, get socket() { return socket; } };  // for tests
