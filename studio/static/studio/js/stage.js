// The words a user reads for a job's state, shared by the job page and the gallery.
export const TERMINAL = new Set(["succeeded", "failed", "canceled"]);

export function duration(seconds) {
  if (seconds == null) return "";
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
  const minutes = Math.round(seconds / 60);
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const pad = (n) => String(n).padStart(2, "0");
  return s >= 3600 ? `${Math.floor(s / 3600)}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`
                   : `${Math.floor(s / 60)}:${pad(s % 60)}`;
}

export function describe(state) {
  const eta = state.eta_seconds != null ? `, about ${duration(state.eta_seconds)}` : "";
  switch (state.status) {
    case "queued":
      return state.queue_position != null
        ? `In line — position ${state.queue_position + 1}${eta}` : `In line${eta}`;
    case "dispatching": return "Sending to the renderer";
    case "submitted": return "Starting up";
    // A cold boot; the server's words carry its measured length.
    case "warming": return state.stage || "Starting the renderer";
    case "rendering": return `Rendering ${Math.round((state.progress || 0) * 100)} %`;
    case "saving": return "Saving your video";
    case "succeeded": return "Your video is ready";
    case "failed": return "This video failed";
    case "canceled": return "Canceled";
    default: return state.stage || state.status;
  }
}

// Reading a job's REST representation (polling) like a socket state.
export function fromRest(job) {
  return { ...job, job_id: job.id, seq: null };
}

// A thumbnail that can't load (expired or missing) leaves the neon backdrop, not a broken icon.
export function hideBrokenImages(root = document) {
  for (const img of root.querySelectorAll("img[data-thumb]")) {
    if (img.complete && img.naturalWidth === 0) img.remove();
    else img.addEventListener("error", () => img.remove(), { once: true });
  }
}
