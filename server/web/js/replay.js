// The replay view: pick a run, scrub its timeline, play and pause at 1x-32x (ticks per second),
// jump to a tick or a game time ("Day 2 09:30"), and inspect an agent as it was then. It reads
// `list_runs`, `replay_state` (the agents at one tick) and `replay_frames` (each tick's changes
// and events) and draws on its own canvas over the open run's map, so it changes nothing in the
// live view. `window.__replay` is a read-only view of it for tests.

import { el, fillSelect, money } from './dom.js';
import { TILE_COLORS, KIND_COLORS, spriteColor, initials } from './paint.js';

const SPEEDS = [1, 2, 4, 8, 16, 32];
const CHUNK = 200;  // ticks of frames fetched at a time while playing

/** "Day 2 09:30" -> game seconds since day 1 00:00, or null. */
export function parseClock(text) {
  const m = /^\s*day\s+(\d+)\s+(\d{1,2}):(\d{2})\s*$/i.exec(text);
  if (!m) return null;
  return (Number(m[1]) - 1) * 86400 + Number(m[2]) * 3600 + Number(m[3]) * 60;
}

export class ReplayView {
  constructor(conn, store, root, toggle) {
    this.conn = conn;
    this.store = store;
    this.root = root;
    this.run = null;
    this.first = 0;
    this.last = 0;
    this.tick = 0;
    this.clock = '';
    this.gameSeconds = 0;
    this.agents = new Map();   // id -> fields as at `tick`
    this.events = [];          // the events of the ticks shown so far, newest last
    this.buffer = [];          // frames after `tick`, fetched ahead while playing
    this.playing = false;
    this.speed = 1;
    this.selected = null;
    this.timer = null;
    this.loads = 0;            // completed seeks, for tests
    this.build();
    toggle.addEventListener('click', () => (this.root.hidden ? this.open() : this.close()));
    conn.on('push:runs', () => this.runsChanged());
    window.addEventListener('resize', () => { if (!this.root.hidden) this.fit(); });
    const view = this;
    Object.defineProperty(window, '__replay', {
      value: Object.freeze({
        get open() { return !root.hidden; },
        get run() { return view.run; },
        get tick() { return view.tick; },
        get clock() { return view.clock; },
        get first() { return view.first; },
        get last() { return view.last; },
        get playing() { return view.playing; },
        get speed() { return view.speed; },
        get loads() { return view.loads; },
        get selected() { return view.selected; },
        agents() { return [...view.agents.values()].map((a) => ({ ...a })); },
      }),
    });
  }

  build() {
    this.runSel = el('select', { id: 'replay-run', 'aria-label': 'Run', onchange: () => this.pickRun(this.runSel.value) });
    this.scrub = el('input', { id: 'replay-scrub', type: 'range', min: 0, max: 0, value: 0, 'aria-label': 'Tick', onchange: () => this.seek(Number(this.scrub.value)) });
    this.playBtn = el('button', { id: 'replay-play', type: 'button', onclick: () => (this.playing ? this.pause() : this.play()) }, 'Play');
    this.speedSel = el('select', { id: 'replay-speed', 'aria-label': 'Speed', onchange: () => { this.speed = Number(this.speedSel.value); if (this.playing) this.schedule(); } });
    fillSelect(this.speedSel, SPEEDS.map((s) => ({ value: String(s), label: `${s}x` })));
    this.jumpIn = el('input', { id: 'replay-jump', placeholder: 'tick or Day 1 09:30', size: 16 });
    const jumpForm = el('form', { class: 'replay-jump', onsubmit: (e) => { e.preventDefault(); this.jump(this.jumpIn.value); } }, this.jumpIn, el('button', { type: 'submit' }, 'Go'));
    this.where = el('span', { id: 'replay-where', class: 'replay-where' });
    this.error = el('div', { id: 'replay-error', class: 'error', role: 'alert' });
    this.canvas = el('canvas', { id: 'replay-canvas', width: 480, height: 360, onclick: (e) => this.clickMap(e) });
    this.list = el('ul', { id: 'replay-agents', class: 'replay-agents' });
    this.inspector = el('div', { id: 'replay-inspector', class: 'replay-inspector' });
    this.feed = el('ul', { id: 'replay-events', class: 'replay-events' });
    this.root.replaceChildren(
      el('div', { class: 'replay-bar' }, el('strong', {}, 'Replay'), this.runSel, this.playBtn, this.speedSel, jumpForm, this.where,
        el('button', { type: 'button', onclick: () => this.close() }, 'Close')),
      this.scrub, this.error,
      el('div', { class: 'replay-body' }, this.canvas, el('div', { class: 'replay-side' }, this.list, this.inspector, this.feed)),
    );
  }

  async open() {
    this.root.hidden = false;
    this.fit();
    try {
      await this.listRuns();
      await this.pickRun(this.runSel.value);
    } catch (err) { this.error.textContent = err.message; }
  }

  /** Fill the run picker; keep the run shown if it is still there (true), else pick the open one. */
  async listRuns() {
    const res = await this.conn.request('list_runs', { archived: true });
    fillSelect(this.runSel, res.runs.map((r) => ({ value: r.name, label: r.parent ? `${r.name} (from ${r.parent} @${r.fork_tick})` : r.name })), false);
    const kept = !!this.run && res.runs.some((r) => r.name === this.run);
    this.runSel.value = kept ? this.run : res.open;
    return kept;
  }

  /** A run was forked, archived or deleted (the `runs` push): the picker follows while open. */
  async runsChanged() {
    if (this.root.hidden) return;
    try {
      if (!(await this.listRuns())) await this.pickRun(this.runSel.value);  // the run shown is gone
    } catch (err) { this.error.textContent = err.message; }
  }

  /** Open the view on run `name` (the runs panel's Replay button). */
  show(name) {
    this.run = name;
    return this.open();
  }

  close() {
    this.pause();
    this.root.hidden = true;
  }

  async pickRun(name) {
    this.pause();
    this.run = name;
    this.first = this.last = 0;
    await this.seek(null);
  }

  /** Load the town at `tick` (null: the run's last recorded tick). */
  async seek(tick) {
    this.error.textContent = '';
    this.buffer = [];
    try {
      if (tick === null || !this.last) {
        // the range first: a state at the first tick tells it, then the wanted tick
        const probe = await this.conn.request('replay_state', { run: this.run, tick: Math.max(1, this.first) });
        this.first = probe.first_tick;
        this.last = probe.last_tick;
        if (tick === null) tick = this.last;
      }
      tick = Math.min(this.last, Math.max(this.first, tick));
      const st = await this.conn.request('replay_state', { run: this.run, tick });
      this.first = st.first_tick;
      this.last = st.last_tick;
      this.tick = st.tick;
      this.clock = st.clock;
      this.gameSeconds = st.game_seconds;
      this.agents = new Map(st.agents.map((a) => [a.id, a]));
      this.events = [];
      this.loads += 1;
    } catch (err) {
      this.error.textContent = err.message;
      this.agents = new Map();
    }
    this.render();
  }

  async jump(text) {
    const t = text.trim();
    if (/^\d+$/.test(t)) return this.seek(Number(t));
    const secs = parseClock(t);
    if (secs === null) { this.error.textContent = 'jump to a tick number or a game time like "Day 1 09:30"'; return undefined; }
    // game time moves a fixed step per tick: find the step from two ticks, then the tick
    const a = await this.conn.request('replay_state', { run: this.run, tick: this.first });
    const b = await this.conn.request('replay_state', { run: this.run, tick: this.last });
    const step = this.last > this.first ? (b.game_seconds - a.game_seconds) / (this.last - this.first) : 1;
    return this.seek(Math.round(this.first + (secs - a.game_seconds) / (step || 1)));
  }

  play() {
    if (this.tick >= this.last) return;
    this.playing = true;
    this.playBtn.textContent = 'Pause';
    this.schedule();
  }

  pause() {
    this.playing = false;
    this.playBtn.textContent = 'Play';
    clearTimeout(this.timer);
    this.timer = null;
  }

  schedule() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.advance(), 1000 / this.speed);
  }

  async advance() {
    if (!this.playing) return;
    if (!this.buffer.length) {
      const to = Math.min(this.last, this.tick + CHUNK);
      if (to <= this.tick) { this.pause(); return; }
      try {
        const res = await this.conn.request('replay_frames', { run: this.run, from_tick: this.tick + 1, to_tick: to });
        this.buffer = res.frames;
      } catch (err) { this.error.textContent = err.message; this.pause(); return; }
      if (!this.playing) return;
    }
    const f = this.buffer.shift();
    if (f) this.apply(f);
    this.render();
    if (this.tick >= this.last) this.pause(); else this.schedule();
  }

  /** One tick's frame applied to the agents shown. */
  apply(f) {
    if (f.keyframe) this.agents = new Map();
    for (const d of f.agents) {
      const a = this.agents.get(d.id) || { id: d.id };
      for (const [k, v] of Object.entries(d)) if (v !== null && k !== 'cleared') a[k] = v;
      for (const k of d.cleared || []) a[k] = null;
      this.agents.set(d.id, a);
    }
    for (const id of f.gone) this.agents.delete(id);
    this.tick = f.tick;
    this.clock = f.clock;
    this.gameSeconds = f.game_seconds;
    this.events.push(...f.events.map((e) => ({ ...e, tick: f.tick })));
    if (this.events.length > 200) this.events.splice(0, this.events.length - 200);
  }

  clickMap(e) {
    const r = this.canvas.getBoundingClientRect();
    const s = this.cell();
    const x = Math.floor(((e.clientX - r.left) * (this.canvas.width / r.width)) / s);
    const y = Math.floor(((e.clientY - r.top) * (this.canvas.height / r.height)) / s);
    const hit = [...this.agents.values()].find((a) => a.x === x && a.y === y);
    if (hit) this.select(hit.id);
  }

  select(id) {
    this.selected = id;
    this.render();
  }

  /** Size the canvas's pixels to its width on screen and the map's shape (sharp on a phone): a
   * whole number of pixels a tile, so the map fills the canvas to its edges. */
  fit() {
    const W = this.store.width || 40, H = this.store.height || 30;
    const s = Math.max(2, Math.floor(((this.canvas.clientWidth || 480) * (window.devicePixelRatio || 1)) / W));
    const w = s * W, h = s * H;
    if (w === this.canvas.width && h === this.canvas.height) return;
    this.canvas.width = w;
    this.canvas.height = h;
    if (!this.root.hidden) this.draw();
  }

  cell() {
    const W = this.store.width || 40, H = this.store.height || 30;
    return Math.max(2, Math.floor(Math.min(this.canvas.width / W, this.canvas.height / H)));
  }

  render() {
    this.scrub.min = String(this.first);
    this.scrub.max = String(this.last);
    this.scrub.value = String(this.tick);
    this.where.textContent = this.last ? `tick ${this.tick} / ${this.last} · ${this.clock}` : 'no recorded ticks';
    this.draw();
    const agents = [...this.agents.values()].sort((a, b) => (a.name || a.id).localeCompare(b.name || b.id));
    this.list.replaceChildren(...agents.map((a) => el('li', { dataset: { id: a.id }, class: a.id === this.selected ? 'sel' : '' },
      el('button', { type: 'button', class: 'link', onclick: () => this.select(a.id) }, a.name || a.id), ` ${a.state || ''} · ${a.label || ''}`)));
    const a = this.selected ? this.agents.get(this.selected) : null;
    this.inspector.replaceChildren(...(a ? [
      el('h4', {}, `${a.name || a.id} at tick ${this.tick}`),
      el('dl', {}, ...[['where', `(${a.x}, ${a.y})`], ['state', a.state], ['doing', a.label], ['cash', money(a.cash ?? 0)], ['going to', a.target || '—'], ['purpose', a.purpose || '—']]
        .flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v ?? '')])),
    ] : [el('p', { class: 'hint' }, this.selected ? 'not in town at this tick' : 'pick an agent')]));
    const shown = this.events.filter((e) => !this.selected || e.agent_id === this.selected || e.other_id === this.selected).slice(-20);
    this.feed.replaceChildren(...shown.map((e) => el('li', {}, `#${e.tick} ${e.kind}: ${e.text}`)));
  }

  draw() {
    const g = this.canvas.getContext('2d');
    const s = this.cell();
    g.clearRect(0, 0, this.canvas.width, this.canvas.height);
    (this.store.tiles || []).forEach((row, y) => {
      for (let x = 0; x < row.length; x++) {
        g.fillStyle = TILE_COLORS[row[x]] || '#ccc';
        g.fillRect(x * s, y * s, s, s);
      }
    });
    for (const b of this.store.buildings?.values?.() || []) {
      g.fillStyle = KIND_COLORS[b.kind] || '#b08f6a';
      g.fillRect(b.x * s, b.y * s, b.w * s, b.h * s);
    }
    for (const a of this.agents.values()) {
      g.fillStyle = a.id === this.selected ? '#d33' : spriteColor('', a.id);
      g.beginPath();
      g.arc(a.x * s + s / 2, a.y * s + s / 2, Math.max(2, s * 0.45), 0, Math.PI * 2);
      g.fill();
      if (s >= 10) {
        g.fillStyle = '#fff';
        g.font = `${Math.floor(s * 0.5)}px sans-serif`;
        g.textAlign = 'center';
        g.fillText(initials(a.name || a.id), a.x * s + s / 2, a.y * s + s * 0.68);
      }
    }
  }
}
