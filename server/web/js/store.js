// The client's copy of the town: map, buildings, agents, clock, chat bubbles and the activity
// feed. It is fed by `get_town` and by pushes; the map and the panel read it. `version` counts
// changes (the map redraws only when it moved on) and `changedIds` holds the agents the last
// tick changed (the agent list updates only their rows). Agent positions
// are animated: each tick push starts a glide from where the agent is drawn to where the server
// says it is, lasting as long as the time between the last two tick pushes. The server sends
// positions, not paths, so the glide follows a shortest walkable route between the two (found
// here, around walls and buildings), and goes straight only when none is near.

import { threadLine } from './threads.js';

const BUBBLE_MS = 6000;         // how long a chat line stays above the speaker
const DEFAULT_GLIDE_MS = 1000;  // glide length before two ticks have been seen
const MIN_GLIDE_MS = 150;
const MAX_GLIDE_MS = 4000;
const FEED_LENGTH = 60;
const MAX_TRAIL_TILES = 24;     // farther than this (Manhattan) in one tick: glide straight

const WALKABLE = new Set(['.', ',', '=']);

/** The point a fraction `k` of the way along the polyline `pts` (by length); `pts.len` holds
 *  the cumulative length at each point (set by `measure`). */
function along(pts, k) {
  const lens = pts.len;
  const left = k * lens[lens.length - 1];
  for (let i = 1; i < pts.length; i++) {
    if (left <= lens[i]) {
      const a = pts[i - 1], b = pts[i];
      const seg = lens[i] - lens[i - 1];
      const f = seg > 0 ? (left - lens[i - 1]) / seg : 1;
      return { x: a.x + (b.x - a.x) * f, y: a.y + (b.y - a.y) * f };
    }
  }
  return { ...pts[pts.length - 1] };
}

/** Store the cumulative lengths of the polyline `pts` on it (for `along`). */
function measure(pts) {
  const len = [0];
  for (let i = 1; i < pts.length; i++) len.push(len[i - 1] + Math.hypot(pts[i].x - pts[i - 1].x, pts[i].y - pts[i - 1].y));
  pts.len = len;
  return pts;
}

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
    this.animUntil = 0;          // when the last glide ends (performance.now() time)
    this.version = 0;            // bumped on every change
    this.changedIds = new Set(); // agents changed by the last tick
    this.membership = 0;         // bumped when agents arrive or leave (the list re-sorts)
    this.grid = null;            // Uint8Array: 1 where an agent may be drawn walking
    this.listeners = new Set();
  }

  /** Call `fn(what)` after every change; `what` names the change ("town", "tick", ...). */
  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  changed(what) {
    this.version += 1;
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
    this.grid = null;
    const old = this.agents;
    this.agents = new Map();
    for (const a of town.agents) {
      const prev = old.get(a.id);
      // A known agent glides from where it is drawn; a new one appears in place.
      const from = prev ? this.drawPos(prev, now) : { x: a.x, y: a.y };
      const glides = from.x !== a.x || from.y !== a.y;
      this.agents.set(a.id, { ...a, anim: { fx: from.x, fy: from.y, t0: now, dur: glides ? DEFAULT_GLIDE_MS : 0 } });
      if (glides) this.animUntil = now + DEFAULT_GLIDE_MS;
    }
    this.changedIds = new Set(this.agents.keys());
    this.membership += 1;
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
    const changedIds = new Set();
    for (const d of data.agents || []) {
      const a = this.agents.get(d.id);
      if (!a) continue;  // an agent we have not been told about yet; get_town will bring it
      changedIds.add(d.id);
      const moved = ('x' in d && d.x !== a.x) || ('y' in d && d.y !== a.y);
      if (!moved) {
        Object.assign(a, d);
        continue;
      }
      const from = this.drawPos(a, now);
      Object.assign(a, d);
      a.anim = { fx: from.x, fy: from.y, t0: now, dur: this.glideMs, path: this.trail(from.x, from.y, a.x, a.y) };
      this.animUntil = now + this.glideMs;
    }
    this.changedIds = changedIds;
    for (const ev of data.events || []) {
      if (ev.kind === 'chat' && ev.agent_id && ev.text) this.say(ev.agent_id, ev.text, now);
      if (!threadLine(this, data.tick, ev)) this.log(data.tick, this.describe(ev));
    }
    if (data.events_cut) this.log(data.tick, `…and ${data.events_cut} more chat lines`);
    this.changed('tick');
  }

  addAgent(agent, now = performance.now()) {
    this.agents.set(agent.id, { ...agent, anim: { fx: agent.x, fy: agent.y, t0: now, dur: 0 } });
    this.changedIds = new Set([agent.id]);
    this.membership += 1;
    this.log(this.tick, `${agent.name} arrived in town`);
    this.changed('agents');
  }

  /** An `agent_removed` push. */
  removeAgent(id) {
    const a = this.agents.get(id);
    if (!a) return;
    this.agents.delete(id);
    this.bubbles.delete(id);
    this.membership += 1;
    this.log(this.tick, `${a.name} left town`);
    this.changed('agents');
  }

  /** Fresher fields of one agent (from `get_agent`), without moving it. */
  refreshAgent(fresh) {
    const a = this.agents.get(fresh.id);
    if (!a) return;
    const { x, y, ...rest } = fresh;
    Object.assign(a, rest);
    this.changedIds = new Set([fresh.id]);
    this.changed('agent');
  }

  addBuilding(b) {
    this.buildings.set(b.id, b);
    this.grid = null;
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
    const text = ev.text || '';
    if (ev.kind === 'chat') return text ? `${who} to ${this.nameOf(ev.other_id) || 'everyone'}: “${text}”` : '';
    return who && !text.startsWith(who) ? `${who}: ${text}` : text;
  }

  /** Where agent `a` is drawn at time `now` (tile units, fractional while gliding). */
  drawPos(a, now = performance.now()) {
    const an = a.anim;
    if (!an || an.dur <= 0) return { x: a.x, y: a.y };
    const t = Math.min(1, Math.max(0, (now - an.t0) / an.dur));
    if (t >= 1) return { x: a.x, y: a.y };
    const k = ease(t);
    if (an.path) return along(an.path, k);
    return { x: an.fx + (a.x - an.fx) * k, y: an.fy + (a.y - an.fy) * k };
  }

  /** Whether an agent can be drawn walking over tile (x, y): a walkable tile under no building. */
  passable(x, y) {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return false;
    if (!this.grid) {
      const W = this.width;
      const g = new Uint8Array(W * this.height);
      for (let ty = 0; ty < this.height; ty++) for (let tx = 0; tx < W; tx++) g[ty * W + tx] = WALKABLE.has(this.tile(tx, ty)) ? 1 : 0;
      for (const b of this.buildings.values()) {
        for (let ty = b.y; ty < b.y + b.h; ty++) for (let tx = b.x; tx < b.x + b.w; tx++) if (tx >= 0 && ty >= 0 && tx < W && ty < this.height) g[ty * W + tx] = 0;
      }
      this.grid = g;
      this.seen = new Int32Array(W * this.height);  // BFS marks: the search number that reached a tile
      this.prev = new Int32Array(W * this.height);
      this.searches = 0;
    }
    return this.grid[y * this.width + x] === 1;
  }

  /**
   * The route an agent most likely walked from (fx, fy) (where it is drawn, maybe between tiles)
   * to tile (tx, ty): a shortest 4-connected route over passable tiles (its ends may be anywhere,
   * a door for instance), as points from the start to the end. Null when a straight glide will
   * do: a step to a neighbour, a jump farther than MAX_TRAIL_TILES, or no route. The search
   * stays within a detour's reach of the two ends, so a tick of a thousand walkers stays cheap.
   */
  trail(fx, fy, tx, ty) {
    const sx = Math.round(fx), sy = Math.round(fy);
    const dist = Math.abs(sx - tx) + Math.abs(sy - ty);
    if (dist <= 1 || dist > MAX_TRAIL_TILES) return null;
    const W = this.width, H = this.height;
    if (sx < 0 || sy < 0 || sx >= W || sy >= H || tx < 0 || ty < 0 || tx >= W || ty >= H) return null;
    this.passable(0, 0);  // builds the grid
    const reach = Math.min(MAX_TRAIL_TILES, dist + 8);
    const grid = this.grid, seen = this.seen, prev = this.prev;
    const mark = ++this.searches;
    const start = sy * W + sx, goal = ty * W + tx;
    seen[start] = mark;
    prev[start] = -1;
    const queue = [start];
    let found = false;
    for (let i = 0; i < queue.length && !found; i++) {
      const k = queue[i];
      const x = k % W, y = (k - x) / W;
      for (let n = 0; n < 4; n++) {
        const nx = n === 0 ? x + 1 : n === 1 ? x - 1 : x;
        const ny = n === 2 ? y + 1 : n === 3 ? y - 1 : y;
        if (nx < 0 || ny < 0 || nx >= W || ny >= H) continue;
        if (Math.abs(nx - sx) + Math.abs(ny - sy) > reach) continue;  // stay near
        const nk = ny * W + nx;
        if (seen[nk] === mark || (nk !== goal && grid[nk] !== 1)) continue;
        seen[nk] = mark;
        prev[nk] = k;
        if (nk === goal) {
          found = true;
          break;
        }
        queue.push(nk);
      }
    }
    if (!found) return null;
    const pts = [];
    for (let k = goal; k !== -1; k = prev[k]) pts.push({ x: k % W, y: Math.floor(k / W) });
    pts.reverse();
    pts[0] = { x: fx, y: fy };
    return measure(pts);
  }

  /** Live bubbles, dropping the expired ones. */
  liveBubbles(now = performance.now()) {
    for (const [id, b] of this.bubbles) if (b.until <= now) this.bubbles.delete(id);
    return this.bubbles;
  }

  /** When the next bubble expires (Infinity when none): the map redraws then. */
  nextBubbleExpiry() {
    let t = Infinity;
    for (const b of this.bubbles.values()) t = Math.min(t, b.until);
    return t;
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
        if (!this.passable(tx, ty)) return false;
      }
    }
    return true;
  }
}
