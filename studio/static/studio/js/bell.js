// The notification bell: unread count (live over the page's socket), a panel, mark as read.
import { api } from "./api.js";
import { LiveSocket } from "./live.js";

const bell = document.querySelector("[data-bell]");
const part = (name) => bell?.querySelector(`[data-bell-${name}]`);

function setCount(count) {
  const badge = part("count");
  if (!badge || count == null) return;
  badge.textContent = count > 99 ? "99+" : String(count);
  badge.hidden = count === 0;
}

// Pages with their own socket pass its messages here; the bell needs no second socket.
export function forwardToBell(message) {
  if (message.unread_count != null) setCount(message.unread_count);
  if (message.type === "notification.created" && !part("panel")?.hidden) load();
}

// "just now", "2 min ago", "3 h ago", "yesterday", "4 days ago", then the date.
export function ago(iso, now = Date.now()) {
  const seconds = Math.max(0, (now - Date.parse(iso)) / 1000);
  if (seconds < 45) return "just now";
  if (seconds < 3600) return `${Math.max(1, Math.round(seconds / 60))} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  const days = Math.floor(seconds / 86400);
  if (days === 1) return "yesterday";
  if (days < 7) return `${days} days ago`;
  return new Date(iso).toLocaleDateString(undefined, { day: "numeric", month: "short" });
}

function item(notification) {
  const li = document.createElement("li");
  li.className = notification.read_at ? "" : "unread";
  const link = document.createElement("a");
  link.href = notification.url || "#";
  link.dataset.id = notification.id;
  const thumb = document.createElement(notification.thumbnail_url ? "img" : "span");
  thumb.className = "bell-thumb";
  if (notification.thumbnail_url) Object.assign(thumb, { src: notification.thumbnail_url, alt: "", loading: "lazy" });
  const text = document.createElement("span");
  text.className = "bell-text";
  const title = document.createElement("strong");
  title.textContent = notification.title;
  const body = document.createElement("small");
  body.textContent = notification.body;
  const when = document.createElement("time");
  when.dateTime = notification.created_at;
  when.title = new Date(notification.created_at).toLocaleString();
  when.textContent = ago(notification.created_at);
  text.append(title, body, when);
  link.append(thumb, text);
  li.append(link);
  return li;
}

// Navigation must not wait for the server: the read mark goes out in the background and
// survives the page unloading (keepalive).
function markRead(id) {
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content ?? "";
  fetch(`/api/v1/notifications/${id}/read/`, {
    method: "POST", keepalive: true, credentials: "same-origin",
    headers: { Accept: "application/json", "X-CSRFToken": csrf },
  }).catch(() => {});  // unread stays unread; the next page shows the true count
}

async function load() {
  const list = part("list");
  try {
    const page = await api("/api/v1/notifications/");
    setCount(page.unread_count);
    list.replaceChildren(...page.results.map(item));
    if (!page.results.length) list.innerHTML = '<li class="bell-empty">Nothing yet. We\'ll tell you when a video is ready.</li>';
  } catch (error) {
    list.innerHTML = "";
    list.append(Object.assign(document.createElement("li"), { className: "bell-empty", textContent: error.message }));
  }
}

function toggle(open) {
  const panel = part("panel");
  panel.hidden = !open;
  part("toggle").setAttribute("aria-expanded", String(open));
  if (open) load();
}

if (bell) {
  part("toggle").addEventListener("click", () => toggle(part("panel").hidden));
  document.addEventListener("click", (event) => { if (!bell.contains(event.target)) toggle(false); });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !part("panel").hidden) { toggle(false); part("toggle").focus(); }
  });
  part("list").addEventListener("click", (event) => {
    const link = event.target.closest("a[data-id]");
    if (!link) return;
    const item = link.closest("li");
    if (item.classList.contains("unread")) {
      item.classList.remove("unread");
      markRead(link.dataset.id);
      const count = Number.parseInt(part("count").textContent, 10);
      if (count < 100) setCount(Math.max(0, count - 1));
    }
    // The link itself navigates, at once (a new tab on a middle or ⌘-click, too).
  });
  part("read-all").addEventListener("click", async () => {
    const result = await api("/api/v1/notifications/read-all/", { method: "POST" });
    setCount(result.unread_count);
    for (const li of part("list").querySelectorAll(".unread")) li.classList.remove("unread");
  });
  bell.querySelector("[data-email-toggle]").addEventListener("change", async (event) => {
    const box = event.currentTarget;
    try {
      await api("/api/v1/notifications/settings/", { method: "PATCH", json: { email_notifications: box.checked } });
    } catch {
      box.checked = !box.checked;
    }
  });
  // Pages without a socket of their own (create, settings) open the user's socket for the bell.
  if (!document.body.classList.contains("live-page")) {
    new LiveSocket({ path: "/ws/jobs/", onMessage: forwardToBell }).start();
  }
}
