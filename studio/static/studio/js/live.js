// A WebSocket that reconnects with backoff + jitter, resumes with ?after=<seq>, and falls back
// to polling a status URL when sockets keep failing or are unavailable.
const CLOSE_CODES_FINAL = new Set([4401, 4403]);

export class LiveSocket {
  constructor({ path, onMessage, onStatus = () => {}, resumeAfter = null, poll = null }) {
    Object.assign(this, { path, onMessage, onStatus, resumeAfter, poll });
    this.attempt = 0;
    this.stopped = false;
    this.pollTimer = null;
  }

  start() {
    if (!("WebSocket" in window)) return this.startPolling();
    this.connect();
    return this;
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.stopPolling();
    this.ws?.close(1000);
  }

  url() {
    const url = new URL(this.path, location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    const after = this.resumeAfter?.();
    if (after != null) url.searchParams.set("after", after);
    return url.href;
  }

  connect() {
    if (this.stopped) return;
    let ws;
    try {
      ws = this.ws = new WebSocket(this.url());
    } catch {
      return this.retry();
    }
    ws.onopen = () => { this.attempt = 0; this.stopPolling(); this.onStatus("live"); };
    ws.onmessage = (event) => {
      try { this.onMessage(JSON.parse(event.data)); } catch (error) { console.error(error); }
    };
    ws.onclose = (event) => {
      if (this.ws !== ws || this.stopped) return;
      if (CLOSE_CODES_FINAL.has(event.code)) { this.onStatus(`closed:${event.code}`); return; }
      this.retry();
    };
  }

  retry() {
    this.attempt += 1;
    // Sockets keep failing (a proxy without WebSocket support?): poll meanwhile.
    if (this.attempt >= 3) this.startPolling();
    const base = Math.min(30000, 500 * 2 ** Math.min(this.attempt, 6));
    const delay = base / 2 + Math.random() * base / 2;  // jitter spreads a reconnect storm
    this.onStatus("reconnecting");
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  startPolling() {
    if (!this.poll || this.pollTimer || this.stopped) return this;
    this.onStatus("polling");
    const tick = async () => {
      try { await this.poll(); } catch (error) { console.warn("poll failed", error); }
      if (this.pollTimer) this.pollTimer = setTimeout(tick, 2000);
    };
    this.pollTimer = setTimeout(tick, 0);
    return this;
  }

  stopPolling() {
    clearTimeout(this.pollTimer);
    this.pollTimer = null;
  }
}
