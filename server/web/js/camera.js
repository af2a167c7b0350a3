// The map's camera: how many CSS pixels a tile takes (`scale`) and where tile (0, 0) sits on the
// canvas (`ox`, `oy`). Every change bumps `version`, so the renderer knows to draw again.

export const MIN_SCALE = 4;
export const MAX_SCALE = 96;

export class Camera {
  constructor() {
    this.scale = 20;  // CSS pixels per tile
    this.ox = 0;      // CSS pixel position of tile (0, 0)
    this.oy = 0;
    this.w = 0;       // the canvas, in CSS pixels
    this.h = 0;
    this.version = 0;
  }

  set(scale, ox, oy) {
    if (scale === this.scale && ox === this.ox && oy === this.oy) return;
    this.scale = scale;
    this.ox = ox;
    this.oy = oy;
    this.version += 1;
  }

  /** Show the whole map (`cover` false) or fill the canvas with it (`cover` true), centred in
   *  the canvas less `insetBottom` px at the bottom (what a sheet over the map hides). */
  fit(mapW, mapH, cover = false, insetBottom = 0) {
    if (!mapW || !this.w) return;
    const h = Math.max(this.h / 3, this.h - insetBottom);
    const sx = this.w / mapW, sy = h / mapH;
    const s = clampScale(cover ? Math.max(sx, sy) : Math.min(sx, sy) * 0.96);
    this.set(s, (this.w - mapW * s) / 2, (h - mapH * s) / 2);
  }

  /** Zoom by `factor` keeping the point (cx, cy) (CSS px in the canvas) still. */
  zoomAt(factor, cx = this.w / 2, cy = this.h / 2) {
    const next = clampScale(this.scale * factor);
    const k = next / this.scale;
    this.set(next, cx - (cx - this.ox) * k, cy - (cy - this.oy) * k);
  }

  panBy(dx, dy) {
    this.set(this.scale, this.ox + dx, this.oy + dy);
  }

  /** Put tile point (tx, ty) at canvas point (cx, cy). */
  centerOn(tx, ty, cx = this.w / 2, cy = this.h / 2) {
    this.set(this.scale, cx - tx * this.scale, cy - ty * this.scale);
  }

  /** The canvas changed size: keep the centre of the view where it was. */
  resize(w, h) {
    if (w === this.w && h === this.h) return;
    if (this.w) this.set(this.scale, this.ox + (w - this.w) / 2, this.oy + (h - this.h) / 2);
    this.w = w;
    this.h = h;
    this.version += 1;
  }

  toTile(cx, cy) {
    return { x: (cx - this.ox) / this.scale, y: (cy - this.oy) / this.scale };
  }

  toScreen(tx, ty) {
    return { x: this.ox + tx * this.scale, y: this.oy + ty * this.scale };
  }
}

function clampScale(s) {
  return Math.max(MIN_SCALE, Math.min(MAX_SCALE, s));
}
