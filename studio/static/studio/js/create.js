// The create page: pick, drop or sample a selfie, preview it, pick a style, Generate.
// Uses the same API as the mobile apps: POST /api/v1/selfies/, then POST /api/v1/jobs/.
import { api } from "./api.js";

const form = document.querySelector("[data-create]");
const el = (name) => form.querySelector(`[data-${name}]`);
let file = null;
let selfieId = null;       // kept so a retried click doesn't upload twice
let idempotencyKey = null; // kept so a retried click can't queue two jobs

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

function say(text) { el("status").textContent = text; }
function fail(text) { el("error").hidden = !text; el("error").textContent = text || ""; }

function choose(chosen) {
  if (!chosen) return;
  if (!chosen.type.startsWith("image/")) return fail("That file is not an image. Pick a photo of your face.");
  if (/hei[cf]/i.test(chosen.type) || /\.hei[cf]$/i.test(chosen.name)) {
    return fail("HEIC photos aren't supported yet. Export it as JPEG (or pick it from the photo library on your phone) and try again.");
  }
  if (chosen.size > 10 * 1024 * 1024) return fail("That photo is over 10 MB. Pick a smaller one.");
  file = chosen;
  selfieId = null;
  idempotencyKey = null;
  fail("");
  const preview = el("preview");
  if (preview.src) URL.revokeObjectURL(preview.src);
  preview.src = URL.createObjectURL(chosen);
  preview.hidden = false;
  el("change").hidden = false;
  el("drop-label").classList.add("visually-hidden");
  el("generate").disabled = false;
  say("Looking good. Pick a style and press Generate.");
}

el("file").addEventListener("change", (event) => choose(event.target.files[0]));
el("change").addEventListener("click", () => el("file").click());
const zone = el("dropzone");
for (const type of ["dragenter", "dragover"]) {
  zone.addEventListener(type, (event) => { event.preventDefault(); zone.classList.add("dragging"); });
}
for (const type of ["dragleave", "drop"]) {
  zone.addEventListener(type, (event) => { event.preventDefault(); zone.classList.remove("dragging"); });
}
zone.addEventListener("drop", (event) => choose(event.dataTransfer.files[0]));

el("sample").addEventListener("click", async (event) => {
  const response = await fetch(event.currentTarget.dataset.sampleUrl);
  const blob = await response.blob();
  choose(new File([blob], "selfie-astronaut.jpg", { type: blob.type || "image/jpeg" }));
});

form.addEventListener("change", (event) => {
  if (event.target.name === "style") idempotencyKey = null;
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!file) return fail("Pick a selfie first.");
  const button = el("generate");
  button.disabled = true;
  fail("");
  try {
    if (!selfieId) {
      say("Uploading your selfie…");
      const body = new FormData();
      body.append("image", file);
      selfieId = (await api("/api/v1/selfies/", { method: "POST", form: body })).id;
    }
    say("Getting you in line…");
    idempotencyKey ??= newKey();
    const style = new FormData(form).get("style");
    const job = await api("/api/v1/jobs/", { method: "POST", json: { selfie_id: selfieId, style },
                                            headers: { "Idempotency-Key": idempotencyKey } });
    say("Queued! Opening your job…");
    location.assign(job.page_url);
  } catch (error) {
    say("");
    fail(error.message);
    button.disabled = false;
  }
});
