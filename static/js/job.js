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
  state = next;
  render();
}

function onMessage(message) {
  switch (message.type) {
    case "snapshot":
      lastSeq = message.job.seq;
      state = message.job;
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
  const text = describe(state);
  el("stage").textContent = text;
  if (announcedStatus !== status) {  // one announcement per stage, not per percent
    announcedStatus = status;
    history.push(status);
    el("announce").textContent = text;
    document.title = `${text} · Surge`;
  }
  const percent = Math.round((state.progress || 0) * 100);
  el("progress-bar").style.width = `${status === "succeeded" ? 100 : percent}%`;
  el("progress").setAttribute("aria-valuenow", String(status === "succeeded" ? 100 : percent));
  el("detail").textContent = detail(state);
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

function detail(s) {
  if (s.status === "queued") return s.queue_position === 0 ? "You're next" : "Waiting for a free renderer";
  if (s.status === "succeeded") return "Done";
  if (TERMINAL.has(s.status)) return "";
  return s.eta_seconds != null ? `About ${duration(s.eta_seconds)} left` : "Working on it";
}

function showVideo() {
  const video = el("video");
  const ready = state.status === "succeeded" && state.video_url;
  el("download").hidden = el("share").hidden = !ready;
  if (!ready || video.dataset.src === state.video_url) return;
  video.dataset.src = state.video_url;
  video.src = state.video_url;
  el("download").href = state.video_url;
  video.addEventListener("loadeddata", () => {
    video.hidden = false;
    el("visual").hidden = true;
  }, { once: true });
  video.play().catch(() => {});  // muted autoplay; a refusal leaves the controls-free poster
}

function tickElapsed() {
  const since = Date.parse(state.created_at);
  const until = state.finished_at ? Date.parse(state.finished_at) : Date.now();
  el("elapsed").textContent = clock((until - since) / 1000);
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
  if (job) location.assign(`/app/jobs/${job.id}/`);
});

el("share").addEventListener("click", async () => {
  const data = { title: "My Surge video", text: "Made with Surge", url: state.video_url };
  if (navigator.share) {
    try { await navigator.share(data); return; } catch (error) { if (error.name === "AbortError") return; }
  }
  try {
    await navigator.clipboard.writeText(state.video_url);
    el("announce").textContent = "Link copied. It works for a few minutes.";
    el("detail").textContent = "Link copied to the clipboard";
  } catch {
    window.prompt("Copy this link:", state.video_url);
  }
});

hideBrokenImages();
render();
tickElapsed();
setInterval(tickElapsed, 1000);
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
