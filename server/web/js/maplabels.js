// The texts over the map, for MapView: agent names, building names and chat bubbles, offered to
// the map's LabelBoard most important first and drawn only where they cover nothing already
// placed (see labels.js).

import { roundRect, pill, clip, bubbleBox, drawBubbleAt } from './paint.js';

const NAMES_AT = 26;       // CSS px per tile from which every agent's name may be drawn
const FEW_MARKERS = 30;    // markers in view few enough to name them all at any zoom
const MAX_BUBBLES = 6;     // chat bubbles drawn at once

export class MapLabels {
  /** @param {import('./map.js').MapView} map */
  constructor(map) {
    this.map = map;
    this.textW = new Map();  // font + text -> measured width
    this.overlayKey = null;
    this.overlayRects = [];
  }

  measure(g, text) {
    const key = g.font + '|' + text;
    let w = this.textW.get(key);
    if (w === undefined) {
      if (this.textW.size > 5000) this.textW.clear();
      w = g.measureText(text).width;
      this.textW.set(key, w);
    }
    return w;
  }

  /** Names, building names and bubbles, most important first, none covering another. */
  draw(g, buildings, now) {
    const s = this.map.store;
    const byId = new Map();
    for (const c of this.map.clusters) for (const id of c.ids) byId.set(id, c);
    const first = [this.map.selected, this.map.followed, this.map.hovered].filter((id, i, all) => id && byId.has(id) && all.indexOf(id) === i);
    for (const id of first) this.agentLabel(g, byId.get(id), id, true);
    for (const id of first) this.bubble(g, byId.get(id), id, now);
    // The rest keep clear of the controls over the map.
    for (const r of this.overlays()) this.map.board.block(r.x, r.y, r.w, r.h);
    for (const b of buildings) this.buildingLabel(g, b);
    // Other bubbles, newest first, up to the cap.
    const live = [...s.liveBubbles(now).entries()].filter(([id]) => byId.has(id) && !first.includes(id));
    live.sort((u, v) => v[1].until - u[1].until);
    let shown = first.filter((id) => s.bubbles.has(id)).length;
    for (const [id] of live) {
      if (shown >= MAX_BUBBLES) break;
      if (this.bubble(g, byId.get(id), id, now)) shown += 1;
    }
    // Every name once zoomed in, or when the view holds few markers.
    if (this.map.cam.scale >= NAMES_AT || this.map.clusters.length <= FEW_MARKERS) {
      for (const c of this.map.clusters) this.map.board.block(c.x - c.r, c.y - c.r, 2 * c.r, 2 * c.r);  // names cover no marker
      for (const c of this.map.clusters) {
        // A crowd's marker shows its count; its names are in the picker.
        if (c.ids.length === 1 && !first.includes(c.ids[0])) this.agentLabel(g, c, c.ids[0], false);
      }
    }
  }

  /** Rectangles of the page's controls over the map (zoom buttons, hints), in canvas CSS px. */
  overlays() {
    const key = `${this.map.cam.w}x${this.map.cam.h}:${this.map.placing !== null}`;
    if (this.overlayKey === key) return this.overlayRects;
    this.overlayKey = key;
    const c = this.map.canvas.getBoundingClientRect();
    const out = [];
    for (const el of this.map.canvas.parentElement.querySelectorAll('.map-controls, .place-hint')) {
      if (el.hidden) continue;
      const r = el.getBoundingClientRect();
      if (r.width) out.push({ x: r.left - c.left, y: r.top - c.top, w: r.width, h: r.height });
    }
    this.overlayRects = out;
    return out;
  }

  /** The name under a marker (with what the agent does, when it is the selected one). */
  agentLabel(g, c, id, important) {
    const a = this.map.store.agents.get(id);
    if (!a) return false;
    const fontPx = Math.max(11, Math.min(13, this.map.cam.scale * 0.55));
    const more = c.ids.length > 1 ? ` +${c.ids.length - 1}` : '';
    const name = a.name + more;
    g.font = `600 ${fontPx}px system-ui, sans-serif`;
    const w = this.measure(g, name) + 8;
    const doing = important && id === this.map.selected && a.label ? clip(a.label, 34) : '';
    let w2 = 0;
    if (doing) {
      g.font = `${fontPx - 1}px system-ui, sans-serif`;
      w2 = this.measure(g, doing) + 8;
    }
    const h = fontPx + 4 + (doing ? fontPx + 5 : 0);
    const W = Math.max(w, w2);
    // Kept inside the canvas at its sides; below the marker, else above it.
    const cx = Math.min(Math.max(c.x, W / 2 + 2), Math.max(W / 2 + 2, this.map.cam.w - W / 2 - 2));
    let top = c.y + c.r + 3;
    if (!this.map.board.place(cx - W / 2, top - 1, W, h, 'agent', name)) {
      top = c.y - c.r - 3 - h;
      if (!this.map.board.place(cx - W / 2, top - 1, W, h, 'agent', name)) return false;
    }
    g.textAlign = 'center';
    g.textBaseline = 'top';
    g.font = `600 ${fontPx}px system-ui, sans-serif`;
    pill(g, name, cx, top, fontPx, important ? '#fff8c4' : 'rgba(255,255,255,0.92)', '#1d232a', w);
    if (doing) {
      g.font = `${fontPx - 1}px system-ui, sans-serif`;
      pill(g, doing, cx, top + fontPx + 5, fontPx - 1, 'rgba(29,35,42,0.8)', '#fff', w2);
    }
    return true;
  }

  buildingLabel(g, b) {
    const fontPx = Math.max(11, Math.min(14, this.map.cam.scale * 0.6));
    g.font = `600 ${fontPx}px system-ui, sans-serif`;
    const w = this.measure(g, b.name) + 8;
    const h = fontPx * 1.4;
    const top = this.map.cam.toScreen(b.x + b.w / 2, b.y);
    // At the top of the building, else along its bottom edge.
    let y = top.y + Math.max(2, this.map.cam.scale * 0.05);
    if (!this.map.board.place(top.x - w / 2, y, w, h, 'building', b.name)) {
      y = top.y + b.h * this.map.cam.scale - h - 2;
      if (!this.map.board.place(top.x - w / 2, y, w, h, 'building', b.name)) return false;
    }
    g.fillStyle = 'rgba(30,30,30,0.75)';
    roundRect(g, top.x - w / 2, y, w, h, 4);
    g.fill();
    g.fillStyle = '#fff';
    g.textAlign = 'center';
    g.textBaseline = 'middle';
    g.fillText(b.name, top.x, y + h / 2);
    return true;
  }

  bubble(g, c, id, now) {
    const b = this.map.store.bubbles.get(id);
    if (!b || b.until <= now) return false;
    const box = b.box || (b.box = bubbleBox(g, b.text));
    const tipY = c.y - c.r - 2;
    if (!this.map.board.place(c.x - box.w / 2, tipY - box.h - box.tail, box.w, box.h + box.tail, 'bubble', b.text)) return false;
    drawBubbleAt(g, box, c.x, tipY);
    return true;
  }
}
