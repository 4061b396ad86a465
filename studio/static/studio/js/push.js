// Settings page: subscribe this browser to Web Push (VAPID), or unsubscribe it.
import { api } from "./api.js";

const button = document.querySelector("[data-push-toggle]");
const status = document.querySelector("[data-push-status]");

function urlBase64ToBytes(base64) {
  const padded = (base64 + "=".repeat((4 - (base64.length % 4)) % 4)).replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

async function current() {
  const registration = await navigator.serviceWorker.register("/sw.js", { scope: "/" });
  return { registration, subscription: await registration.pushManager.getSubscription() };
}

async function refresh() {
  const { subscription } = await current();
  button.disabled = false;
  button.textContent = subscription ? "Turn off push on this device" : "Turn on push on this device";
  button.dataset.on = subscription ? "1" : "";
}

button.addEventListener("click", async () => {
  button.disabled = true;
  try {
    const { registration, subscription } = await current();
    if (subscription) {
      await api("/api/v1/push/unsubscribe/", { method: "POST", json: { endpoint: subscription.endpoint } });
      await subscription.unsubscribe();
      status.textContent = "Push notifications are off on this device.";
    } else {
      if ((await Notification.requestPermission()) !== "granted") {
        status.textContent = "Notifications are blocked for this site in your browser settings.";
        return;
      }
      const { public_key: key } = await api("/api/v1/push/key/");
      const created = await registration.pushManager.subscribe({
        userVisibleOnly: true, applicationServerKey: urlBase64ToBytes(key) });
      await api("/api/v1/push/subscribe/", { method: "POST", json: created.toJSON() });
      status.textContent = "Done: this device will be notified when a video finishes.";
    }
  } catch (error) {
    status.textContent = `Could not change push notifications: ${error.message}`;
  } finally {
    await refresh().catch(() => {});
  }
});

if ("serviceWorker" in navigator && "PushManager" in window) {
  refresh().catch((error) => { status.textContent = error.message; });
} else {
  button.textContent = "Not supported in this browser";
  status.textContent = "This browser can't receive push notifications (on iPhone, add Surge to the Home Screen first).";
}
