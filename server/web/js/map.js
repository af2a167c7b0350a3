// The town map on a 2D canvas: tiles (drawn once into an offscreen layer), buildings, agents and
// chat bubbles, and a footprint preview while placing a building. Drawn for a crowd:
//  - agents sharing a tile are one marker with a count; a tap on it opens a picker;
//  - names are drawn for the selected, followed and hovered agents, and for the rest only when
//    zoomed in (or few are in view), and only where they cover no other label; a few chat
//    bubbles, likewise (maplabels.js, labels.js);
//  - nothing off screen is drawn, and nothing is drawn at all when nothing changed (no glide
//    running, camera and town as they were).
// The camera (camera.js) and the gestures (gestures.js) move the view.

import { TILE_COLORS, KIND_COLORS, spriteColor, initials } from './paint.js';
import { Camera } from './camera.js';
import { bindGestures } from './gestures.js';
import { LabelBoard } from './labels.js';
import { MapLabels } from './maplabels.js';

const TILE_PX = 16;        // tile size in the cached tile layer
const MAX_DPR = 2;         // finer canvases cost more than they show
const SMOOTH_AT = 32;      // CSS px per tile from which glides are drawn every frame
const CLUSTER_INK = '#33413a';

export class MapView {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {import('./store.js').TownStore} store
   * @param {{onSelectAgent(id), onSelectBuilding(id), onPlace(x, y), onCancelPlace(), onPickCluster(ids, point), onFollow(id)}} handlers
   */
  constructor(canvas, store, handlers) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.store = store;
    this.handlers = handlers;
    this.cam = new Camera();
    this.board = new LabelBoard();
    this.dpr = 0;
    this.fitted = false;
    this.cover = false;      // the first view fills the canvas (phones) rather than showing all
    this.insetBottom = 0;    // CSS px at the bottom covered by a sheet (phones)
    this.tileLayer = null;
    this.tileLayerKey = null;
    this._selected = null;   // selected agent id
    this.followed = null;    // the agent the camera follows
    this.mine = null;        // this player's avatar (ringed in blue)
    this.hovered = null;     // agent id under the mouse
    this._placing = null;    // template being placed, or null
    this.hoverTile = null;   // {x, y} under the pointer
    this.preview = null;     // the footprint drawn while placing: {x, y, w, h, ok}
    this.layers = [];        // extra drawings over the buildings: {draw(g, map)} in tile units
    this.clusters = [];      // drawn this frame: {x, y, ids, r} (screen px)
    this.frames = 0;         // frames drawn (not frames skipped because nothing changed)
    this.dirty = true;
    this.drawn = { cam: -1, store: -1 };
    this.drawnAt = 0;        // when the last frame was drawn
    this.labels = new MapLabels(this);
    bindGestures(canvas, this.cam, {
      tap: (p, e) => this.tap(p, e.pointerType),
      hover: (p) => this.hover(p),
      key: (k) => { if (k === 'Escape') this.handlers.onCancelPlace?.(); },
      gesture: () => this.unfollow(),
    });
    store.subscribe((what) => {
      if (what === 'town' || what === 'buildings') this.tileLayerKey = null;
      if (what === 'town' && !this.fitted) this.fit(this.cover);
      this.dirty = true;
    });
    requestAnimationFrame((t) => this.frame(t));
  }

  get selected() { return this._selected; }
  set selected(id) { this._selected = id; this.dirty = true; }
  get placing() { return this._placing; }
  set placing(tpl) { this._placing = tpl; this.dirty = true; }

  // ----- camera (the fields tests and other modules read) -----

  get scale() { return this.cam.scale; }
  get ox() { return this.cam.ox; }
  get oy() { return this.cam.oy; }
  get cssW() { return this.cam.w; }
  get cssH() { return this.cam.h; }

  /** Show the whole town (or, with `cover`, fill the canvas with it), centred. */
  fit(cover = false) {
    const s = this.store;
    if (!s.loaded || !this.cam.w) return;
    this.cam.fit(s.width, s.height, cover, this.insetBottom);
    this.fitted = true;
  }

  zoomAt(factor, cx, cy) {
    this.cam.zoomAt(factor, cx, cy);
  }

  toTile(cx, cy) { return this.cam.toTile(cx, cy); }
  toScreen(tx, ty) { return this.cam.toScreen(tx, ty); }

  /** The page (client) coordinates of the centre of tile (x, y); used by tests to click. */
  tileToClient(x, y) {
    const r = this.canvas.getBoundingClientRect();
    const p = this.cam.toScreen(x + 0.5, y + 0.5);
    return { x: r.left + p.x, y: r.top + p.y };
  }

  /** Keep agent `id` in the middle of the view (null stops). */
  follow(id) {
    this.followed = id;
    this.dirty = true;
    this.handlers.onFollow?.(id);
  }

  unfollow() {
    if (this.followed) this.follow(null);
  }

  /** Bring agent `id` into the visible part of the map if it is off it. */
  reveal(id) {
    const a = this.store.agents.get(id);
    if (!a) return;
    const p = this.cam.toScreen(a.x + 0.5, a.y + 0.5);
    const m = 40;
    if (p.x < m || p.y < m || p.x > this.cam.w - m || p.y > this.cam.h - this.insetBottom - m) {
      this.cam.centerOn(a.x + 0.5, a.y + 0.5, this.cam.w / 2, (this.cam.h - this.insetBottom) / 2);
    }
  }

  /** The label rectangles drawn in the last frame (CSS px in the canvas), for tests. */
  labelRects() {
    return this.board.labels().map((r) => ({ ...r }));
  }

  // ----- input -----

  tap(p, pointerType) {
    const t = this.cam.toTile(p.x, p.y);
    if (this.placing) {
      this.handlers.onPlace(Math.floor(t.x), Math.floor(t.y));
      return;
    }
    const c = this.clusterAt(p.x, p.y, pointerType === 'touch' ? 22 : 6);
    if (c && c.ids.length === 1) {
      this.handlers.onSelectAgent(c.ids[0]);
      return;
    }
    if (c) {
      const r = this.canvas.getBoundingClientRect();
      this.handlers.onPickCluster?.(c.ids, { x: r.left + c.x, y: r.top + c.y });
      return;
    }
    if (this.handlers.onWalk?.(Math.floor(t.x), Math.floor(t.y))) return;  // the avatar walks there
    const b = this.store.buildingAt(Math.floor(t.x), Math.floor(t.y));
    if (b) this.handlers.onSelectBuilding(b.id);
  }

  hover(p) {
    const t = p ? this.cam.toTile(p.x, p.y) : null;
    const tile = t ? { x: Math.floor(t.x), y: Math.floor(t.y) } : null;
    if (tile?.x !== this.hoverTile?.x || tile?.y !== this.hoverTile?.y) {
      this.hoverTile = tile;
      if (this.placing) this.dirty = true;
    }
    const c = p ? this.clusterAt(p.x, p.y, 4) : null;
    const id = c ? c.ids[0] : null;
    if (id !== this.hovered) {
      this.hovered = id;
      this.dirty = true;
    }
    this.canvas.style.cursor = this.placing ? 'crosshair' : c ? 'pointer' : '';
  }

  /** The marker drawn under canvas point (x, y), within `slack` px of its edge. */
  clusterAt(x, y, slack) {
    if (this.drawn.cam !== this.cam.version) this.clusters = this.cluster(performance.now());  // moved since drawn
    let best = null;
    let bestD = Infinity;
    for (const c of this.clusters) {
      const d = Math.hypot(c.x - x, c.y - y);
      if (d <= c.r + slack && d < bestD) {
        best = c;
        bestD = d;
      }
    }
    return best;
  }

  // ----- the frame loop -----

  frame(t) {
    try {
      this.resize();
      if (this.followed) this.keepFollowing(t);
      if (this.needsDraw(t)) {
        this.draw(t);
        this.frames += 1;
      }
    } finally {
      requestAnimationFrame((t2) => this.frame(t2));
    }
  }

  /** Whether anything drawn would differ from the last frame. */
  needsDraw(t) {
    const s = this.store;
    // While placing a building every frame is drawn: the preview and any layers (sites.js) follow
    // the pointer and answers that arrive on their own.
    if (this.dirty || this.placing !== null || this.drawn.cam !== this.cam.version
      || this.drawn.store !== s.version || t >= this.nextExpiry) return true;
    if (t > s.animUntil + 50) return false;
    // Agents are gliding. Zoomed out, a glide moves a marker less than a pixel a frame: every
    // other frame is enough there, and leaves the page time for everything else.
    return this.cam.scale >= SMOOTH_AT || t - this.drawnAt >= 30;
  }

  keepFollowing(t) {
    const a = this.store.agents.get(this.followed);
    if (!a) {
      this.follow(null);
      return;
    }
    const p = this.store.drawPos(a, t);
    this.cam.centerOn(p.x + 0.5, p.y + 0.5, this.cam.w / 2, (this.cam.h - this.insetBottom) / 2);
  }

  resize() {
    const dpr = Math.min(MAX_DPR, window.devicePixelRatio || 1);
    const w = this.canvas.clientWidth;
    const h = this.canvas.clientHeight;
    if (w === this.cam.w && h === this.cam.h && dpr === this.dpr) return;
    this.cam.resize(w, h);
    this.dpr = dpr;
    this.canvas.width = Math.max(1, Math.round(w * dpr));
    this.canvas.height = Math.max(1, Math.round(h * dpr));
    this.dirty = true;
    if (!this.fitted) this.fit(this.cover);
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
    this.dirty = false;
    this.drawnAt = now;
    this.drawn = { cam: this.cam.version, store: s.version };
    this.nextExpiry = s.nextBubbleExpiry();
    this.board.clear();
    g.setTransform(1, 0, 0, 1, 0, 0);
    g.fillStyle = '#2f3a33';
    g.fillRect(0, 0, this.canvas.width, this.canvas.height);
    if (!s.loaded) {
      this.clusters = [];
      return;
    }
    const dpr = this.dpr, cam = this.cam;
    // World layer: one unit = one tile.
    g.setTransform(dpr * cam.scale, 0, 0, dpr * cam.scale, dpr * cam.ox, dpr * cam.oy);
    g.imageSmoothingEnabled = false;
    g.drawImage(this.ensureTileLayer(), 0, 0, s.width, s.height);
    const shown = [...s.buildings.values()].filter((b) => this.onScreen(b.x, b.y, b.w, b.h));
    for (const b of shown) this.drawBuilding(g, b);
    for (const layer of this.layers) layer.draw(g, this);
    if (this.placing && this.hoverTile) this.drawPreview(g);
    else this.preview = null;
    // Screen layer: text stays crisp at any zoom.
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    for (const b of shown) this.drawEquipmentLetters(g, b);
    this.clusters = this.cluster(now);
    for (const c of this.clusters) this.drawMarker(g, c);
    this.labels.draw(g, shown, now);
  }

  onScreen(x, y, w, h) {
    const a = this.cam.toScreen(x, y);
    const sc = this.cam.scale;
    return a.x + w * sc >= 0 && a.y + h * sc >= 0 && a.x <= this.cam.w && a.y <= this.cam.h;
  }

  /** Agents grouped by the tile they are drawn on, on screen only: {x, y, r, ids} in CSS px. */
  cluster(now) {
    const s = this.store, cam = this.cam;
    const W = s.width;
    const groups = new Map();
    const r = Math.max(3, Math.min(20, cam.scale * 0.38));
    const margin = r + 2;
    for (const a of s.agents.values()) {
      const p = s.drawPos(a, now);
      const sx = cam.ox + (p.x + 0.5) * cam.scale, sy = cam.oy + (p.y + 0.5) * cam.scale;
      if (sx < -margin || sy < -margin || sx > cam.w + margin || sy > cam.h + margin) continue;
      const key = Math.round(p.y) * W + Math.round(p.x);
      const c = groups.get(key);
      if (c) {
        c.ids.push(a.id);
      } else {
        groups.set(key, { x: sx, y: sy, r, ids: [a.id] });
      }
    }
    const out = [...groups.values()];
    for (const c of out) {
      if (c.ids.length > 1) {
        c.ids.sort();
        c.r = r * (c.ids.length > 9 ? 1.45 : 1.25);
      }
    }
    return out;
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
    const e = b.entrance;  // the door on the entrance tile
    g.fillStyle = '#6d4c33';
    g.fillRect(e.x + 0.25, e.y + 0.2, 0.5, 0.8);
    for (const { q, x, y, size } of equipmentSlots(b)) {  // lit when someone uses it
      g.fillStyle = q.users && q.users.length ? '#ff8f3a' : 'rgba(255,255,255,0.85)';
      g.fillRect(x, y, size, size);
      g.strokeStyle = 'rgba(40,30,20,0.55)';
      g.lineWidth = 0.05;
      g.strokeRect(x, y, size, size);
    }
  }

  /** Letters on the equipment icons, once they are big enough to read. */
  drawEquipmentLetters(g, b) {
    const scale = this.cam.scale;
    if (scale < 16) return;
    g.font = `600 ${Math.round(scale * 0.45)}px system-ui, sans-serif`;
    g.textAlign = 'center';
    g.textBaseline = 'middle';
    g.fillStyle = '#3b2f25';
    for (const { q, x, y, size } of equipmentSlots(b)) {
      const p = this.cam.toScreen(x + size / 2, y + size / 2);
      g.fillText(q.name.charAt(0).toUpperCase(), p.x, p.y + 0.5);
    }
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

  drawMarker(g, c) {
    const one = c.ids.length === 1;
    const a = one ? this.store.agents.get(c.ids[0]) : null;
    const marked = c.ids.includes(this.selected) || (this.followed && c.ids.includes(this.followed));
    if (marked) {
      g.beginPath();
      g.arc(c.x, c.y, c.r + 4, 0, Math.PI * 2);
      g.fillStyle = 'rgba(255,235,59,0.6)';
      g.fill();
    }
    if (this.mine && c.ids.includes(this.mine)) {  // this player's avatar
      g.beginPath();
      g.arc(c.x, c.y, c.r + 2.5, 0, Math.PI * 2);
      g.lineWidth = 3;
      g.strokeStyle = '#1e63d6';
      g.stroke();
    }
    g.beginPath();
    g.arc(c.x, c.y, c.r, 0, Math.PI * 2);
    g.fillStyle = one ? spriteColor(a.sprite, a.id) : CLUSTER_INK;
    g.fill();
    if (c.r >= 5) {
      g.lineWidth = c.r >= 8 ? 2 : 1;
      g.strokeStyle = '#fff';
      g.stroke();
    }
    const text = one ? initials(a.name) : String(c.ids.length);
    if (one ? c.r >= 9 : c.r >= 5) {
      g.fillStyle = '#fff';
      g.font = `700 ${Math.round(Math.max(8, c.r * (one ? 1 : 0.95)))}px system-ui, sans-serif`;
      g.textAlign = 'center';
      g.textBaseline = 'middle';
      g.fillText(text, c.x, c.y + 0.5);
    }
  }
}

/** Where each piece of a building's equipment is drawn: {q, x, y, size} in tiles. */
function equipmentSlots(b) {
  const eq = b.equipment || [];
  const size = 0.7;
  const gap = 0.15;
  const perRow = Math.max(1, Math.floor((b.w - 0.4) / (size + gap)));
  return eq.map((q, i) => ({
    q, size, x: b.x + 0.3 + (i % perRow) * (size + gap), y: b.y + 1.0 + Math.floor(i / perRow) * (size + gap),
  }));
}
