// My videos: live status badges for every tile, from the user's socket (ws/jobs/).
import { LiveSocket } from "./live.js";
import { forwardToBell } from "./bell.js";
import { hideBrokenImages } from "./stage.js";

const LABELS = { queued: "Queued", dispatching: "Starting", submitted: "Starting", warming: "Warming up",
  rendering: "Rendering", saving: "Saving", succeeded: "Ready", failed: "Failed", canceled: "Canceled" };
const announce = document.querySelector("[data-announce]");
const seen = new Map();  // job id → last seq applied

function update(jobId, status, progress, seq) {
  if (seq != null && seq <= (seen.get(jobId) ?? 0)) return;
  if (seq != null) seen.set(jobId, seq);
  const tile = document.querySelector(`[data-job="${CSS.escape(jobId)}"]`);
  if (!tile) return;  // a job newer than this page: it appears on the next visit
  const badge = tile.querySelector("[data-badge]");
  const before = tile.dataset.status;
  tile.dataset.status = status;
  badge.className = `badge badge-${status}`;
  badge.textContent = status === "rendering" && progress ? `Rendering ${Math.round(progress * 100)} %` : LABELS[status] ?? status;
  if (before !== status && (status === "succeeded" || status === "failed")) {
    const title = tile.querySelector("strong").textContent;
    announce.textContent = `${title}: ${LABELS[status]}`;
  }
}

hideBrokenImages();
for (const badge of document.querySelectorAll("[data-job] [data-badge]")) {
  const tile = badge.closest("[data-job]");
  badge.textContent = LABELS[tile.dataset.status] ?? badge.textContent;
}

new LiveSocket({
  path: "/ws/jobs/",
  onMessage(message) {
    if (message.type === "snapshot") {
      seen.clear();
      for (const job of message.jobs) update(job.job_id, job.status, job.progress, job.seq);
    } else if (message.type === "job.event") {
      update(message.job_id, message.status, message.progress, message.seq);
    }
    forwardToBell(message);
  },
}).start();
