// The town map on a canvas: tiles, buildings (name, equipment icons), agents gliding between
// ticks with their name and what they are doing, chat bubbles, and a footprint preview while
// placing a building. A camera (pan by dragging, zoom by wheel or buttons) maps tiles to the
// screen; the canvas follows the window size and the device pixel ratio.

import { TILE_COLORS, KIND_COLORS, spriteColor, roundRect, pill, fitText, initials, clip, drawBubble } from './paint.js';

const TILE_PX = 16;  // tile size in the cached tile layer
const MIN_SCALE = 4;
const MAX_SCALE = 96;
const DRAG_THRESHOLD = 4;

export class MapView {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {import('./store.js').TownStore} store
   * @param {{onSelectAgent(id), onSelectBuilding(id), onPlace(x, y)}} handlers
   */
  constructor(canvas, store, handlers) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.store = store;
    this.handlers = handlers;
    this.scale = 20;  // CSS pixels per tile
    this.ox = 0;      // CSS pixel position of tile (0, 0)
    this.oy = 0;
    this.cssW = 0;
    this.cssH = 0;
    this.dpr = 0;
    this.fitted = false;
    this.tileLayer = null;
    this.tileLayerKey = null;
    this.selected = null;  // selected agent id
    this.placing = null;   // template being placed, or null
    this.hoverTile = null; // {x, y} under the pointer
    this.preview = null;   // the footprint drawn while placing: {x, y, w, h, ok}
    this.layers = [];      // extra drawings over the buildings: {draw(g, map)} in tile units
    this.drag = null;
    this.frames = 0;
    this.bindInput();
    store.subscribe((what) => {
      if (what === 'town' || what === 'buildings') this.tileLayerKey = null;
      if (what === 'town' && !this.fitted) this.fit();
    });
    requestAnimationFrame((t) => this.frame(t));
  }

  // ----- camera -----

  /** Zoom so the whole map fits the canvas, centred. */
  fit() {
    const s = this.store;
    if (!s.loaded || !this.cssW) return;
    this.scale = Math.max(MIN_SCALE, Math.min(MAX_SCALE, Math.min(this.cssW / s.width, this.cssH / s.height) * 0.96));
    this.ox = (this.cssW - s.width * this.scale) / 2;
    this.oy = (this.cssH - s.height * this.scale) / 2;
    this.fitted = true;
  }

  /** Zoom by `factor` keeping the point (cx, cy) (CSS px in the canvas) still. */
  zoomAt(factor, cx = this.cssW / 2, cy = this.cssH / 2) {
    const next = Math.max(MIN_SCALE, Math.min(MAX_SCALE, this.scale * factor));
    const k = next / this.scale;
    this.ox = cx - (cx - this.ox) * k;
    this.oy = cy - (cy - this.oy) * k;
    this.scale = next;
  }

  toTile(cx, cy) {
    return { x: (cx - this.ox) / this.scale, y: (cy - this.oy) / this.scale };
  }

  toScreen(tx, ty) {
    return { x: this.ox + tx * this.scale, y: this.oy + ty * this.scale };
  }

  /** The page (client) coordinates of the centre of tile (x, y); used by tests to click. */
  tileToClient(x, y) {
    const r = this.canvas.getBoundingClientRect();
    const p = this.toScreen(x + 0.5, y + 0.5);
    return { x: r.left + p.x, y: r.top + p.y };
  }

  // ----- input -----

  bindInput() {
    const c = this.canvas;
    const local = (e) => {
      const r = c.getBoundingClientRect();
      return { x: e.clientX - r.left, y: e.clientY - r.top };
    };
    c.addEventListener('pointerdown', (e) => {
      if (e.button !== 0) return;
      const p = local(e);
      this.drag = { x: p.x, y: p.y, ox: this.ox, oy: this.oy, moved: false, id: e.pointerId };
      c.setPointerCapture(e.pointerId);
    });
    c.addEventListener('pointermove', (e) => {
      const p = local(e);
      const t = this.toTile(p.x, p.y);
      this.hoverTile = { x: Math.floor(t.x), y: Math.floor(t.y) };
      const d = this.drag;
      if (d) {
        if (!d.moved && Math.hypot(p.x - d.x, p.y - d.y) > DRAG_THRESHOLD) d.moved = true;
        if (d.moved) {
          this.ox = d.ox + (p.x - d.x);
          this.oy = d.oy + (p.y - d.y);
        }
      }
      c.style.cursor = d?.moved ? 'grabbing' : this.placing ? 'crosshair' : this.agentAt(t.x, t.y) ? 'pointer' : 'grab';
    });
    c.addEventListener('pointerleave', () => { this.hoverTile = null; });
    c.addEventListener('pointerup', (e) => {
      const d = this.drag;
      this.drag = null;
      if (!d || d.moved) return;
      const p = local(e);
      this.click(this.toTile(p.x, p.y));
    });
    c.addEventListener('pointercancel', () => { this.drag = null; });
    c.addEventListener('wheel', (e) => {
      e.preventDefault();
      const p = local(e);
      this.zoomAt(Math.exp(-e.deltaY * 0.0015), p.x, p.y);
    }, { passive: false });
    c.addEventListener('keydown', (e) => {
      const step = 40;
      const keys = {
        ArrowLeft: () => { this.ox += step; }, ArrowRight: () => { this.ox -= step; },
        ArrowUp: () => { this.oy += step; }, ArrowDown: () => { this.oy -= step; },
        '+': () => this.zoomAt(1.25), '=': () => this.zoomAt(1.25), '-': () => this.zoomAt(0.8),
        Escape: () => this.handlers.onCancelPlace?.(),
      };
      if (keys[e.key]) {
        e.preventDefault();
        keys[e.key]();
      }
    });
  }

  click(t) {
    if (this.placing) {
      this.handlers.onPlace(Math.floor(t.x), Math.floor(t.y));
      return;
    }
    const a = this.agentAt(t.x, t.y);
    if (a) {
      this.handlers.onSelectAgent(a.id);
      return;
    }
    const b = this.store.buildingAt(Math.floor(t.x), Math.floor(t.y));
    if (b) this.handlers.onSelectBuilding(b.id);
  }

  /** The agent drawn nearest to tile point (tx, ty), within reach of a click. */
  agentAt(tx, ty) {
    let best = null;
    let bestD = 0.6;
    for (const { a, p } of this.layout(performance.now())) {
      const d = Math.hypot(p.x + 0.5 - tx, p.y + 0.5 - ty);
      if (d < bestD) {
        best = a;
        bestD = d;
      }
    }
    return best;
  }

  /**
   * Where each agent is drawn now: its gliding position, fanned out a little when several share
   * a tile so none hides another. Sorted back to front, the selected agent last (on top).
   */
  layout(now) {
    const s = this.store;
    const groups = new Map();
    const out = [];
    for (const a of s.agents.values()) {
      const p = s.drawPos(a, now);
      const key = `${Math.round(p.x)},${Math.round(p.y)}`;
      if (!groups.has(key)) groups.set(key, []);
      const item = { a, p: { ...p }, row: 0, labelX: null, labelY: null };
      groups.get(key).push(item);
      out.push(item);
    }
    for (const g of groups.values()) {
      if (g.length < 2) continue;
      g.sort((u, v) => (u.a.id < v.a.id ? -1 : 1));
      g.forEach((item, i) => {
        const ang = (i / g.length) * Math.PI * 2 + Math.PI;
        item.p.x += Math.cos(ang) * 0.36;
        item.p.y += Math.sin(ang) * 0.36;
      });
      // Their names stack under the group, each taking one or two lines.
      const base = Math.max(...g.map((it) => it.p.y));
      const cx = g.reduce((sum, it) => sum + it.p.x, 0) / g.length;
      let line = 0;
      for (const it of g) {
        it.labelY = base;
        it.labelX = cx;
        it.row = line;
        line += this.showsLabel(it.a) ? 2 : 1;
      }
    }
    out.sort((u, v) => (u.a.id === this.selected) - (v.a.id === this.selected) || u.p.y - v.p.y);
    return out;
  }

  // ----- drawing -----

  frame(t) {
    try {
      this.resize();
      this.draw(t);
      this.frames += 1;
    } finally {
      requestAnimationFrame((t2) => this.frame(t2));
    }
  }

  resize() {
    const dpr = window.devicePixelRatio || 1;
    const w = this.canvas.clientWidth;
    const h = this.canvas.clientHeight;
    if (w === this.cssW && h === this.cssH && dpr === this.dpr) return;
    // Keep the centre of the view where it was.
    if (this.cssW) {
      this.ox += (w - this.cssW) / 2;
      this.oy += (h - this.cssH) / 2;
    }
    this.cssW = w;
    this.cssH = h;
    this.dpr = dpr;
    this.canvas.width = Math.max(1, Math.round(w * dpr));
    this.canvas.height = Math.max(1, Math.round(h * dpr));
    if (!this.fitted) this.fit();
  }

  /** The tiles, drawn once per map into an offscreen canvas. */
  ensureTileLayer() {
    const s = this.store;
    const key = `${s.width}x${s.height}:${s.tiles.length}`;
    if (this.tileLayer && this.tileLayerKey === key) return this.tileLayer;
    const c = document.createElement('canvas');
    c.width = s.width * TILE_PX;
    c.height = s.height * TILE_PX;
    const g = c.getContext('2d');
    for (let y = 0; y < s.height; y++) {
      for (let x = 0; x < s.width; x++) {
        const ch = s.tile(x, y);
        g.fillStyle = TILE_COLORS[ch] || '#888';
        g.fillRect(x * TILE_PX, y * TILE_PX, TILE_PX, TILE_PX);
        if (ch === ',' && (x * 7 + y * 13) % 5 === 0) {  // a few tufts so grass is not flat
          g.fillStyle = '#94c272';
          g.fillRect(x * TILE_PX + 4, y * TILE_PX + 6, 3, 3);
          g.fillRect(x * TILE_PX + 10, y * TILE_PX + 10, 2, 2);
        } else if (ch === '~') {
          g.fillStyle = '#8cc6ea';
          g.fillRect(x * TILE_PX + 3, y * TILE_PX + 5, 7, 1);
        } else if (ch === '=') {
          g.fillStyle = '#c9c3b6';
          g.fillRect(x * TILE_PX + 7, y * TILE_PX + 7, 2, 2);
        }
      }
    }
    this.tileLayer = c;
    this.tileLayerKey = key;
    return c;
  }

  draw(now) {
    const g = this.ctx;
    const s = this.store;
    g.setTransform(1, 0, 0, 1, 0, 0);
    g.fillStyle = '#2f3a33';
    g.fillRect(0, 0, this.canvas.width, this.canvas.height);
    if (!s.loaded) return;
    const dpr = this.dpr;
    // World layer: one unit = one tile.
    g.setTransform(dpr * this.scale, 0, 0, dpr * this.scale, dpr * this.ox, dpr * this.oy);
    g.imageSmoothingEnabled = false;
    g.drawImage(this.ensureTileLayer(), 0, 0, s.width, s.height);
    for (const b of s.buildings.values()) this.drawBuilding(g, b);
    for (const layer of this.layers) layer.draw(g, this);
    if (this.placing && this.hoverTile) this.drawPreview(g);
    else this.preview = null;
    // Screen layer: text stays crisp at any zoom.
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    for (const b of s.buildings.values()) this.drawBuildingLabel(g, b);
    const agents = this.layout(now);
    for (const item of agents) this.drawAgent(g, item);
    const bubbles = s.liveBubbles(now);
    for (const { a, p } of agents) {
      const b = bubbles.get(a.id);
      if (b) {
        const c = this.toScreen(p.x + 0.5, p.y);
        drawBubble(g, b.text, c.x, c.y);
      }
    }
  }

  drawBuilding(g, b) {
    const color = KIND_COLORS[b.kind] || '#cfc6b8';
    g.fillStyle = 'rgba(0,0,0,0.18)';
    g.fillRect(b.x + 0.12, b.y + 0.16, b.w, b.h);  // shadow
    g.fillStyle = color;
    g.fillRect(b.x, b.y, b.w, b.h);
    g.fillStyle = 'rgba(255,255,255,0.22)';
    g.fillRect(b.x, b.y, b.w, 0.6);  // roof ridge
    g.strokeStyle = 'rgba(40,30,20,0.7)';
    g.lineWidth = 0.08;
    g.strokeRect(b.x + 0.04, b.y + 0.04, b.w - 0.08, b.h - 0.08);
    // The entrance: a door on the entrance tile.
    const e = b.entrance;
    g.fillStyle = '#6d4c33';
    g.fillRect(e.x + 0.25, e.y + 0.2, 0.5, 0.8);
    // Equipment icons: one small tile per piece, lit when someone uses it.
    const eq = b.equipment || [];
    const size = 0.7;
    const gap = 0.15;
    const perRow = Math.max(1, Math.floor((b.w - 0.4) / (size + gap)));
    eq.forEach((q, i) => {
      const col = i % perRow;
      const row = Math.floor(i / perRow);
      const x = b.x + 0.3 + col * (size + gap);
      const y = b.y + 1.0 + row * (size + gap);
      g.fillStyle = q.users && q.users.length ? '#ff8f3a' : 'rgba(255,255,255,0.85)';
      g.fillRect(x, y, size, size);
      g.strokeStyle = 'rgba(40,30,20,0.55)';
      g.lineWidth = 0.05;
      g.strokeRect(x, y, size, size);
    });
  }

  drawBuildingLabel(g, b) {
    const scale = this.scale;
    const top = this.toScreen(b.x + b.w / 2, b.y);
    const eq = b.equipment || [];
    // Letters on the equipment icons, once they are big enough to read.
    if (scale >= 16) {
      const size = 0.7;
      const gap = 0.15;
      const perRow = Math.max(1, Math.floor((b.w - 0.4) / (size + gap)));
      g.font = `600 ${Math.round(scale * 0.45)}px system-ui, sans-serif`;
      g.textAlign = 'center';
      g.textBaseline = 'middle';
      g.fillStyle = '#3b2f25';
      eq.forEach((q, i) => {
        const p = this.toScreen(b.x + 0.3 + (i % perRow) * (size + gap) + size / 2,
          b.y + 1.0 + Math.floor(i / perRow) * (size + gap) + size / 2);
        g.fillText(q.name.charAt(0).toUpperCase(), p.x, p.y + 0.5);
      });
    }
    const fontPx = Math.max(10, Math.min(14, scale * 0.6));
    g.font = `600 ${fontPx}px system-ui, sans-serif`;
    g.textAlign = 'center';
    g.textBaseline = 'middle';
    const label = fitText(g, b.name, Math.max(40, b.w * scale - 4));
    const w = g.measureText(label).width + 8;
    const y = top.y + Math.max(fontPx * 0.8, scale * 0.3);
    g.fillStyle = 'rgba(30,30,30,0.72)';
    roundRect(g, top.x - w / 2, y - fontPx * 0.7, w, fontPx * 1.4, 4);
    g.fill();
    g.fillStyle = '#fff';
    g.fillText(label, top.x, y);
  }

  drawPreview(g) {
    const tpl = this.placing;
    const { x, y } = this.hoverTile;
    const ok = this.store.fits(tpl, x, y);
    this.preview = { x, y, w: tpl.w, h: tpl.h, ok };
    g.fillStyle = ok ? 'rgba(60,200,90,0.45)' : 'rgba(230,60,60,0.45)';
    g.fillRect(x, y, tpl.w, tpl.h);
    g.strokeStyle = ok ? '#1b7f3a' : '#a11';
    g.lineWidth = 0.1;
    g.setLineDash([0.3, 0.2]);
    g.strokeRect(x, y, tpl.w, tpl.h);
    g.setLineDash([]);
  }

  /** Whether the agent's "what I am doing" line is drawn under its name. */
  showsLabel(a) {
    return Boolean(a.label) && (a.id === this.selected || this.scale >= 22);
  }

  drawAgent(g, { a, p, row, labelX, labelY }) {
    const c = this.toScreen(p.x + 0.5, p.y + 0.5);
    const r = Math.max(4, this.scale * 0.38);
    const selected = a.id === this.selected;
    if (selected) {
      g.beginPath();
      g.arc(c.x, c.y, r + 4, 0, Math.PI * 2);
      g.fillStyle = 'rgba(255,235,59,0.55)';
      g.fill();
    }
    g.beginPath();
    g.arc(c.x, c.y, r, 0, Math.PI * 2);
    g.fillStyle = spriteColor(a.sprite, a.id);
    g.fill();
    g.lineWidth = 2;
    g.strokeStyle = '#fff';
    g.stroke();
    if (r >= 7) {
      g.fillStyle = '#fff';
      g.font = `700 ${Math.round(r)}px system-ui, sans-serif`;
      g.textAlign = 'center';
      g.textBaseline = 'middle';
      g.fillText(initials(a.name), c.x, c.y + 0.5);
    }
    // Name, and what the agent is doing.
    const showLabel = this.showsLabel(a);
    const fontPx = Math.max(10, Math.min(13, this.scale * 0.55));
    const lx = labelX === null ? c.x : this.toScreen(labelX + 0.5, 0).x;
    let y = (labelY === null ? c.y : this.toScreen(0, labelY + 0.5).y) + r + 3 + row * (fontPx + 5);
    g.textAlign = 'center';
    g.textBaseline = 'top';
    g.font = `600 ${fontPx}px system-ui, sans-serif`;
    pill(g, a.name, lx, y, fontPx, 'rgba(255,255,255,0.9)', '#1d232a');
    if (showLabel && a.label) {
      y += fontPx + 5;
      g.font = `${fontPx - 1}px system-ui, sans-serif`;
      pill(g, clip(a.label, 34), lx, y, fontPx - 1, 'rgba(29,35,42,0.78)', '#fff');
    }
  }

}
