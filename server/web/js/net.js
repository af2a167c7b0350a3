// The websocket client of the town protocol.
//
// A request is {id, command, data}; its answer echoes the id and carries either `result` or
// `error {code, message}`. Frames with a `type` and no id are pushes. The connection reconnects
// by itself with exponential backoff; whoever owns it listens for "open" to re-fetch the town.

/** An error answer from the server (or a request that could not be sent). */
export class CommandError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'CommandError';
    this.code = code;
  }
}

/** The websocket URL of the host this page was served from. Never a hard-coded host. */
export function socketUrl(loc = window.location) {
  return (loc.protocol === 'https:' ? 'wss:' : 'ws:') + '//' + loc.host + '/ws';
}

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 10000;
const REQUEST_TIMEOUT_MS = 120000;

/**
 * One logical connection to the town, surviving drops.
 *
 * Events (listen with `on(name, fn)`):
 *   "open"      ()                 connected (first time or after a drop)
 *   "close"     ({attempt, delayMs}) lost; the next attempt is scheduled in delayMs
 *   "push"      (type, data)       any push frame
 *   "push:<t>"  (data)             a push of type <t>
 */
export class Connection {
  constructor(url = socketUrl()) {
    this.url = url;
    this.ws = null;
    this.connected = false;
    this.attempt = 0;            // failed attempts since the last good connection
    this.nextId = 1;
    this.pending = new Map();    // id -> {resolve, reject, timer}
    this.listeners = new Map();  // event name -> Set of functions
    this.retryTimer = null;
    this.retryAt = 0;            // when the next attempt starts (ms since epoch), 0 when none
    this.stopped = false;
  }

  on(name, fn) {
    if (!this.listeners.has(name)) this.listeners.set(name, new Set());
    this.listeners.get(name).add(fn);
    return () => this.listeners.get(name).delete(fn);
  }

  emit(name, ...args) {
    for (const fn of this.listeners.get(name) || []) {
      try {
        fn(...args);
      } catch (e) {
        // A listener bug must not break the socket; report it without failing the frame loop.
        console.warn(`listener for ${name} failed:`, e);
      }
    }
  }

  /** Open the socket (again). Safe to call while a retry is scheduled: it runs now. */
  connect() {
    this.stopped = false;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.retryAt = 0;
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (e) {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (ws !== this.ws) return;
      this.connected = true;
      this.attempt = 0;
      this.emit('open');
    };
    ws.onmessage = (ev) => {
      if (ws === this.ws) this.handleFrame(ev.data);
    };
    // The browser always fires "close" after "error"; all recovery happens there.
    ws.onerror = () => {};
    ws.onclose = () => {
      if (ws !== this.ws) return;
      this.ws = null;
      this.connected = false;
      this.failPending('disconnected', 'the connection to the server was lost');
      if (!this.stopped) this.scheduleRetry();
    };
  }

  /** Close for good (no reconnect). */
  close() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    if (this.ws) this.ws.close();
  }

  scheduleRetry() {
    const delayMs = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt);
    this.attempt += 1;
    this.retryAt = Date.now() + delayMs;
    this.retryTimer = setTimeout(() => this.connect(), delayMs);
    this.emit('close', { attempt: this.attempt, delayMs });
  }

  failPending(code, message) {
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new CommandError(code, message));
    }
    this.pending.clear();
  }

  handleFrame(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch (e) {
      console.warn('ignoring a frame that is not JSON');
      return;
    }
    if (frame === null || typeof frame !== 'object') return;
    if (frame.id !== undefined && frame.id !== null && this.pending.has(frame.id)) {
      const p = this.pending.get(frame.id);
      this.pending.delete(frame.id);
      clearTimeout(p.timer);
      if (frame.ok) p.resolve(frame.result);
      else p.reject(new CommandError(frame.error?.code || 'error', frame.error?.message || 'request failed'));
      return;
    }
    if (typeof frame.type === 'string') {
      this.emit('push', frame.type, frame.data || {});
      this.emit('push:' + frame.type, frame.data || {});
      return;
    }
    if (frame.ok === false && frame.error) {
      // An error the server could not tie to a request (e.g. a connection limit).
      console.warn(`server error: ${frame.error.code}: ${frame.error.message}`);
    }
  }

  /** Send a command; resolves with its result, rejects with a CommandError. */
  request(command, data = {}) {
    return new Promise((resolve, reject) => {
      if (!this.ws || !this.connected) {
        reject(new CommandError('disconnected', 'not connected to the server'));
        return;
      }
      const id = this.nextId++;
      const timer = setTimeout(() => {
        if (this.pending.delete(id)) reject(new CommandError('timeout', `${command}: no answer from the server`));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ id, command, data }));
    });
  }
}
