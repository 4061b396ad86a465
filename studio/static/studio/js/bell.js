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

function item(notification) {
  const li = document.createElement("li");
  li.className = notification.read_at ? "" : "unread";
  const link = document.createElement("a");
  link.href = notification.url || "#";
  link.dataset.id = notification.id;
  const title = document.createElement("strong");
  title.textContent = notification.title;
  const body = document.createElement("small");
  body.textContent = notification.body;
  link.append(title, body);
  li.append(link);
  return li;
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
  part("list").addEventListener("click", async (event) => {
    const link = event.target.closest("a[data-id]");
    if (!link) return;
    event.preventDefault();
    try {
      const result = await api(`/api/v1/notifications/${link.dataset.id}/read/`, { method: "POST" });
      setCount(result.unread_count);
    } finally {
      location.assign(link.getAttribute("href"));
    }
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
