// Where the map's texts may go: a label (a building's name, an agent's name, a chat bubble) is
// drawn only where it covers no label already placed nor a blocked area (markers, the zoom
// buttons), and labels are offered most important first. A grid of buckets keeps the check cheap with hundreds of labels on screen.

const CELL = 64;  // px per bucket
const GAP = 1;    // px kept clear between two labels

export class LabelBoard {
  constructor() {
    this.rects = [];           // placed this frame: {x, y, w, h, kind, text}
    this.cells = new Map();    // bucket key -> indices into rects
  }

  clear() {
    this.rects = [];
    this.cells.clear();
  }

  /** Whether the rectangle is clear of every label placed so far. */
  free(x, y, w, h) {
    const x0 = Math.floor((x - GAP) / CELL), x1 = Math.floor((x + w + GAP) / CELL);
    const y0 = Math.floor((y - GAP) / CELL), y1 = Math.floor((y + h + GAP) / CELL);
    for (let cy = y0; cy <= y1; cy++) {
      for (let cx = x0; cx <= x1; cx++) {
        const bucket = this.cells.get(cx * 100003 + cy);
        if (!bucket) continue;
        for (const i of bucket) {
          const r = this.rects[i];
          if (x < r.x + r.w + GAP && r.x < x + w + GAP && y < r.y + r.h + GAP && r.y < y + h + GAP) return false;
        }
      }
    }
    return true;
  }

  /** Take the rectangle if it is free; true when taken (the caller then draws it). */
  place(x, y, w, h, kind, text) {
    if (!this.free(x, y, w, h)) return false;
    this.take(x, y, w, h, kind, text);
    return true;
  }

  /** Keep labels off a rectangle that is not a label (a marker, a button over the map). */
  block(x, y, w, h) {
    this.take(x, y, w, h, 'block', '');
  }

  /** The labels placed (without the blocked areas). */
  labels() {
    return this.rects.filter((r) => r.kind !== 'block');
  }

  take(x, y, w, h, kind, text) {
    const i = this.rects.length;
    this.rects.push({ x, y, w, h, kind, text });
    const x0 = Math.floor(x / CELL), x1 = Math.floor((x + w) / CELL);
    const y0 = Math.floor(y / CELL), y1 = Math.floor((y + h) / CELL);
    for (let cy = y0; cy <= y1; cy++) {
      for (let cx = x0; cx <= x1; cx++) {
        const key = cx * 100003 + cy;
        const bucket = this.cells.get(key);
        if (bucket) bucket.push(i);
        else this.cells.set(key, [i]);
      }
    }
  }
}
