// The client's copy of the town: map, buildings, agents, clock, chat bubbles and the activity
// feed. It is fed by `get_town` and by pushes; the map and the panel read it. Agent positions
// are animated: each tick push starts a glide from where the agent is drawn to where the server
// says it is, lasting as long as the time between the last two tick pushes.

const BUBBLE_MS = 6000;         // how long a chat line stays above the speaker
const DEFAULT_GLIDE_MS = 1000;  // glide length before two ticks have been seen
const MIN_GLIDE_MS = 150;
const MAX_GLIDE_MS = 4000;
const FEED_LENGTH = 60;

const WALKABLE = new Set(['.', ',', '=']);

/** Ease in and out, so agents start and stop softly. */
function ease(t) {
  return t < 0.5 ? 2 * t * t : 1 - (-2 * t + 2) ** 2 / 2;
}

export class TownStore {
  constructor() {
    this.loaded = false;
    this.name = '';
    this.width = 0;
    this.height = 0;
    this.tiles = [];
    this.tick = 0;
    this.clock = '';
    this.paused = false;
    this.buildings = new Map();  // id -> building (as the server sends it)
    this.agents = new Map();     // id -> agent (public fields) plus `anim`
    this.templates = [];
    this.bubbles = new Map();    // agent id -> {text, until}
    this.feed = [];              // recent events, newest last: {tick, text}
    this.lastTickAt = 0;
    this.glideMs = DEFAULT_GLIDE_MS;
    this.listeners = new Set();
  }

  /** Call `fn(what)` after every change; `what` names the change ("town", "tick", ...). */
  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  changed(what) {
    for (const fn of this.listeners) fn(what);
  }

  /** Replace everything with a fresh `get_town` answer (first load, or after a reconnect). */
  load(town, now = performance.now()) {
    this.name = town.name;
    this.width = town.width;
    this.height = town.height;
    this.tiles = town.tiles;
    this.tick = town.tick;
    this.clock = town.clock;
    this.templates = town.templates || [];
    this.buildings = new Map(town.buildings.map((b) => [b.id, b]));
    const old = this.agents;
    this.agents = new Map();
    for (const a of town.agents) {
      const prev = old.get(a.id);
      // A known agent glides from where it is drawn; a new one appears in place.
      const from = prev ? this.drawPos(prev, now) : { x: a.x, y: a.y };
      this.agents.set(a.id, { ...a, anim: { fx: from.x, fy: from.y, t0: now, dur: DEFAULT_GLIDE_MS } });
    }
    this.loaded = true;
    this.changed('town');
  }

  /** A `tick` push: move the changed agents, show chat bubbles, log events. Each agent in the
   *  push carries its `id` and only the fields that changed since the previous push. */
  applyTick(data, now = performance.now()) {
    if (this.lastTickAt) {
      this.glideMs = Math.max(MIN_GLIDE_MS, Math.min(MAX_GLIDE_MS, now - this.lastTickAt));
    }
    this.lastTickAt = now;
    this.tick = data.tick;
    this.clock = data.clock;
    for (const d of data.agents || []) {
      const a = this.agents.get(d.id);
      if (!a) continue;  // an agent we have not been told about yet; get_town will bring it
      const from = this.drawPos(a, now);
      Object.assign(a, d);
      a.anim = { fx: from.x, fy: from.y, t0: now, dur: this.glideMs };
    }
    for (const ev of data.events || []) {
      if (ev.kind === 'chat' && ev.agent_id) this.say(ev.agent_id, ev.text, now);
      this.log(data.tick, this.describe(ev));
    }
    this.changed('tick');
  }

  addAgent(agent, now = performance.now()) {
    this.agents.set(agent.id, { ...agent, anim: { fx: agent.x, fy: agent.y, t0: now, dur: 0 } });
    this.log(this.tick, `${agent.name} arrived in town`);
    this.changed('agents');
  }

  /** Fresher fields of one agent (from `get_agent`), without moving it. */
  refreshAgent(fresh) {
    const a = this.agents.get(fresh.id);
    if (!a) return;
    const { x, y, ...rest } = fresh;
    Object.assign(a, rest);
    this.changed('agent');
  }

  addBuilding(b) {
    this.buildings.set(b.id, b);
    this.log(this.tick, `${b.name} was built`);
    this.changed('buildings');
  }

  /** A player's chat push: both lines as bubbles (the player's words sit above the agent too). */
  playerChat(data, now = performance.now()) {
    this.say(data.to, data.reply, now);
    this.log(this.tick, `${data.from} to ${data.agent}: “${data.text}” — ${data.agent}: “${data.reply}”`);
    this.changed('chat');
  }

  setPaused(paused) {
    this.paused = paused;
    this.changed('paused');
  }

  say(agentId, text, now = performance.now()) {
    if (!text) return;
    this.bubbles.set(agentId, { text, until: now + BUBBLE_MS });
  }

  log(tick, text) {
    if (!text) return;
    this.feed.push({ tick, text });
    if (this.feed.length > FEED_LENGTH) this.feed.splice(0, this.feed.length - FEED_LENGTH);
  }

  nameOf(id) {
    if (!id) return '';
    return this.agents.get(id)?.name || this.buildings.get(id)?.name || id;
  }

  describe(ev) {
    const who = this.nameOf(ev.agent_id);
    if (ev.kind === 'chat') return `${who} to ${this.nameOf(ev.other_id) || 'everyone'}: “${ev.text}”`;
    return who && !ev.text.startsWith(who) ? `${who}: ${ev.text}` : ev.text;
  }

  /** Where agent `a` is drawn at time `now` (tile units, fractional while gliding). */
  drawPos(a, now = performance.now()) {
    const an = a.anim;
    if (!an || an.dur <= 0) return { x: a.x, y: a.y };
    const t = Math.min(1, Math.max(0, (now - an.t0) / an.dur));
    if (t >= 1) return { x: a.x, y: a.y };
    const k = ease(t);
    return { x: an.fx + (a.x - an.fx) * k, y: an.fy + (a.y - an.fy) * k };
  }

  /** Live bubbles, dropping the expired ones. */
  liveBubbles(now = performance.now()) {
    for (const [id, b] of this.bubbles) if (b.until <= now) this.bubbles.delete(id);
    return this.bubbles;
  }

  tile(x, y) {
    return this.tiles[y]?.[x] ?? '#';
  }

  buildingAt(x, y) {
    for (const b of this.buildings.values()) {
      if (x >= b.x && x < b.x + b.w && y >= b.y && y < b.y + b.h) return b;
    }
    return null;
  }

  /**
   * A client-side guess at whether template `tpl` fits at (x, y): every tile inside the map,
   * walkable and not under a building. The server decides; this only colours the preview.
   */
  fits(tpl, x, y) {
    for (let ty = y; ty < y + tpl.h; ty++) {
      for (let tx = x; tx < x + tpl.w; tx++) {
        if (tx < 0 || ty < 0 || tx >= this.width || ty >= this.height) return false;
        if (!WALKABLE.has(this.tile(tx, ty)) || this.buildingAt(tx, ty)) return false;
      }
    }
    return true;
  }
}
