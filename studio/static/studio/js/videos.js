// My videos: live status badges for every tile, from the user's socket (ws/jobs/).
import { LiveSocket } from "./live.js";
import { forwardToBell } from "./bell.js";
import { hideBrokenImages } from "./stage.js";

const LABELS = { queued: "Queued", dispatching: "Starting", submitted: "Starting", warming: "Warming up",
  rendering: "Rendering", saving: "Saving", succeeded: "Ready", failed: "Failed", canceled: "Canceled" };
const announce = document.querySelector("[data-announce]");
const seen = new Map();  // job id → last seq applied

// A finished video previews in its tile: its frame at 1 s, playing while hovered or focused.
function clip(tile, url) {
  let video = tile.querySelector("[data-clip]");
  if (!video && url) {
    video = Object.assign(document.createElement("video"), { muted: true, loop: true, playsInline: true,
                                                             preload: "metadata", src: `${url}#t=1` });
    video.dataset.clip = "";
    video.setAttribute("aria-hidden", "true");
    tile.querySelector(".thumb").append(video);
  }
  return video;
}

function preview(event, play) {
  const tile = event.target.closest?.("[data-job]");
  if (!tile || tile.contains(event.relatedTarget)) return;  // moving within one tile
  const video = tile.querySelector("[data-clip]");
  if (!video) return;
  if (play) video.play().catch(() => {});
  else video.pause();
}

function update(jobId, status, progress, seq, videoUrl) {
  if (seq != null && seq <= (seen.get(jobId) ?? 0)) return;
  if (seq != null) seen.set(jobId, seq);
  const tile = document.querySelector(`[data-job="${CSS.escape(jobId)}"]`);
  if (!tile) return;  // a job newer than this page: it appears on the next visit
  const badge = tile.querySelector("[data-badge]");
  const before = tile.dataset.status;
  tile.dataset.status = status;
  badge.className = `badge badge-${status}`;
  badge.textContent = status === "rendering" && progress ? `Rendering ${Math.round(progress * 100)} %` : LABELS[status] ?? status;
  if (status === "succeeded") clip(tile, videoUrl);
  if (before !== status && (status === "succeeded" || status === "failed")) {
    const title = tile.querySelector("strong").textContent;
    announce.textContent = `${title}: ${LABELS[status]}`;
  }
}

hideBrokenImages();
const gallery = document.querySelector("[data-gallery]");
if (gallery && !matchMedia("(prefers-reduced-motion: reduce)").matches) {
  gallery.addEventListener("pointerover", (event) => preview(event, true));
  gallery.addEventListener("pointerout", (event) => preview(event, false));
  gallery.addEventListener("focusin", (event) => preview(event, true));
  gallery.addEventListener("focusout", (event) => preview(event, false));
}
for (const badge of document.querySelectorAll("[data-job] [data-badge]")) {
  const tile = badge.closest("[data-job]");
  badge.textContent = LABELS[tile.dataset.status] ?? badge.textContent;
}

new LiveSocket({
  path: "/ws/jobs/",
  onMessage(message) {
    if (message.type === "snapshot") {
      seen.clear();
      for (const job of message.jobs) update(job.job_id, job.status, job.progress, job.seq, job.video_url);
    } else if (message.type === "job.event") {
      update(message.job_id, message.status, message.progress, message.seq, message.video_url);
    }
    forwardToBell(message);
  },
}).start();
