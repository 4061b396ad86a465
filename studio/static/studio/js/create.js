// The create page: pick, drop or sample a selfie, check it, pick a style, Generate.
// Uses the same API as the mobile apps: POST /api/v1/selfies/, then POST /api/v1/jobs/.
import { api } from "./api.js";
import { checkPhoto, rulesFrom } from "./photo-check.js";

const form = document.querySelector("[data-create]");
const el = (name) => form.querySelector(`[data-${name}]`);
const rules = rulesFrom(form);
const calm = matchMedia("(prefers-reduced-motion: reduce)");
let file = null;
let picks = 0;             // a newer pick wins over a check still running for an older one
let selfieId = null;       // kept so a retried click doesn't upload twice
let idempotencyKey = null; // kept so a retried click can't queue two jobs

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

function say(text) { el("status").textContent = text; }

// Brings a message into view and gives it focus, so it is seen (a phone's fold) and read out.
function show(message) {
  message.focus({ preventScroll: true });
  message.scrollIntoView({ block: "center", behavior: calm.matches ? "auto" : "smooth" });
}

function fail(text) {
  const error = el("error");
  error.hidden = !text;
  error.textContent = text || "";
  if (text) show(error);
}

// The line under the photo: what is wrong with it (and focus on it), or that it is fine.
function photoMessage(text, { ok = false } = {}) {
  const message = el("photo-message");
  message.textContent = text;
  message.classList.toggle("ok", ok);
  message.classList.toggle("error", Boolean(text) && !ok);
  if (text && !ok) show(message);
}

function setGenerate(enabled, hint) {
  el("generate").disabled = !enabled;
  el("generate-hint").textContent = hint;
  el("generate-hint").hidden = !hint;
}

function showPreview(url) {
  const preview = el("preview");
  if (preview.src) URL.revokeObjectURL(preview.src);
  if (url) preview.src = url; else preview.removeAttribute("src");
  preview.hidden = !url;
  el("change").hidden = !url;
  el("drop-label").classList.toggle("visually-hidden", Boolean(url));
}

async function choose(chosen) {
  if (!chosen) return;
  const pick = ++picks;
  file = null;
  selfieId = null;
  idempotencyKey = null;
  fail("");
  photoMessage("");
  setGenerate(false, "Checking your photo…");
  say("Checking your photo…");
  const result = await checkPhoto(chosen, rules);
  if (pick !== picks) {
    if (result.ok) URL.revokeObjectURL(result.url);
    return;
  }
  say("");
  if (!result.ok) {
    showPreview(null);
    setGenerate(false, "Pick a different photo to continue.");
    photoMessage(result.message);
    return;
  }
  file = chosen;
  showPreview(result.url);
  setGenerate(true, "");
  photoMessage(`Photo OK: ${result.width} × ${result.height} pixels.`, { ok: true });
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
el("sample").hidden = false;

// Style previews: posters at rest; a preview plays while pointed at or focused, and the picked
// one plays for a few seconds (no motion longer than 5 s starts by itself: WCAG 2.2.2).
const PICKED_PLAY_MS = 5000;
let pickedTimer = 0;
const previewOf = (option) => option.querySelector("[data-style-preview]");
function play(video) {
  if (calm.matches) return;
  video.play().catch(() => {}); // a browser may refuse; the poster stays
}
function rest(video) {
  video.pause();
}
for (const option of form.querySelectorAll("[data-style-option]")) {
  const video = previewOf(option);
  const input = option.querySelector("input");
  option.addEventListener("pointerenter", () => play(video));
  option.addEventListener("pointerleave", () => { if (!input.checked || !pickedTimer) rest(video); });
  input.addEventListener("focus", () => play(video));
  input.addEventListener("blur", () => rest(video));
}

form.addEventListener("change", (event) => {
  if (event.target.name !== "style") return;
  idempotencyKey = null;
  const video = previewOf(event.target.closest("[data-style-option]"));
  clearTimeout(pickedTimer);
  play(video);
  pickedTimer = setTimeout(() => {
    pickedTimer = 0;
    if (!video.closest("[data-style-option]").matches(":hover, :focus-within")) rest(video);
  }, PICKED_PLAY_MS);
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!file) return photoMessage("Pick a selfie first.");
  const button = el("generate");
  button.disabled = true;
  fail("");
  let uploading = false;
  try {
    if (!selfieId) {
      uploading = true;
      say("Uploading your selfie…");
      const body = new FormData();
      body.append("image", file);
      selfieId = (await api("/api/v1/selfies/", { method: "POST", form: body })).id;
      uploading = false;
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
    // What the server says about the photo goes next to the photo; anything else by the button.
    if (uploading && (error.extra?.image || error.status === 413 || error.status === 415)) {
      file = null;
      showPreview(null);
      setGenerate(false, "Pick a different photo to continue.");
      photoMessage(error.message);
      return;
    }
    fail(error.message);
    button.disabled = false;
  }
});
