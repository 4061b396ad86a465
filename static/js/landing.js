// The landing page's sample: the "after" video plays (muted, looped) unless the visitor asked for
// reduced motion, and a button pauses and resumes it (moving content needs a pause: WCAG 2.2.2).
const video = document.querySelector("[data-sample-after]");
const toggle = document.querySelector("[data-sample-toggle]");

function label() {
  toggle.textContent = video.paused ? "Play" : "Pause";
  toggle.setAttribute("aria-label", video.paused ? "Play the sample video" : "Pause the sample video");
}

if (video && toggle) {
  video.addEventListener("play", label);
  video.addEventListener("pause", label);
  toggle.addEventListener("click", () => (video.paused ? video.play().catch(label) : video.pause()));
  if (!matchMedia("(prefers-reduced-motion: reduce)").matches) video.play().catch(label);
  label();
}
