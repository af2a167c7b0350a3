// Colours and small canvas drawing helpers for the map: tile and building palettes, agent
// sprite colours, rounded labels ("pills"), text fitting and speech bubbles.

export const TILE_COLORS = {
  '.': '#ddd3bb',  // floor
  ',': '#a5cf82',  // grass
  '=': '#bdb6a8',  // road
  '#': '#5a5048',  // wall
  '~': '#6cb2df',  // water
};

export const KIND_COLORS = {
  home: '#eab08a', food: '#f3d16b', work: '#93bde3', shop: '#c8aee6',
  culture: '#c99aa5', leisure: '#8fd18f', health: '#f0a3a3',
};

// Sprite names an agent may have, with their colours; unknown sprites get a colour from a hash.
export const SPRITES = {
  default: '#607d8b', alice: '#e5739d', bob: '#8d6e63', carmen: '#ab47bc', david: '#26a69a',
  eva: '#ffa726', farid: '#5c6bc0', red: '#e53935', blue: '#1e88e5', green: '#43a047',
  orange: '#fb8c00', purple: '#8e24aa', teal: '#00897b',
};

export function spriteColor(sprite, fallbackKey = '') {
  if (SPRITES[sprite]) return SPRITES[sprite];
  let h = 0;
  for (const ch of (sprite || '') + fallbackKey) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return `hsl(${h % 360}, 55%, 50%)`;
}


export function roundRect(g, x, y, w, h, r) {
  g.beginPath();
  g.moveTo(x + r, y);
  g.arcTo(x + w, y, x + w, y + h, r);
  g.arcTo(x + w, y + h, x, y + h, r);
  g.arcTo(x, y + h, x, y, r);
  g.arcTo(x, y, x + w, y, r);
  g.closePath();
}

/** A rounded label centred on `cx` with its top at `top`; `w` is its width if already measured. */
export function pill(g, text, cx, top, fontPx, bg, fg, w = g.measureText(text).width + 8) {
  g.fillStyle = bg;
  roundRect(g, cx - w / 2, top - 1, w, fontPx + 4, 4);
  g.fill();
  g.fillStyle = fg;
  g.fillText(text, cx, top + 1);
}

/** `text`, shortened with "…" until it is at most `maxW` pixels wide. */
export function fitText(g, text, maxW) {
  if (g.measureText(text).width <= maxW) return text;
  let t = text;
  while (t.length > 1 && g.measureText(t + '…').width > maxW) t = t.slice(0, -1);
  return t.trimEnd() + '…';
}

export function initials(name) {
  return name.split(/\s+/).map((w) => w.charAt(0)).join('').slice(0, 2).toUpperCase();
}

export function clip(text, n) {
  return text.length > n ? text.slice(0, n - 1) + '…' : text;
}

/** Break `text` into at most `maxLines` lines no wider than `maxW` pixels; "…" marks a cut. */
export function wrap(g, text, maxW, maxLines) {
  const words = String(text).split(/\s+/);
  const lines = [];
  let line = '';
  let i = 0;
  for (; i < words.length; i++) {
    const next = line ? line + ' ' + words[i] : words[i];
    if (g.measureText(next).width <= maxW || !line) {
      line = next;
      continue;
    }
    lines.push(line);
    line = words[i];
    if (lines.length === maxLines) break;
  }
  if (lines.length < maxLines) {
    if (line) lines.push(line);
    return lines.map((l) => clip(l, 40));
  }
  lines[maxLines - 1] = clip(lines[maxLines - 1], 38) + '…';
  return lines.map((l) => clip(l, 40));
}

/** The size of a speech bubble for `text`: up to 3 lines of at most 200 px. */
export function bubbleBox(g, text) {
  const fontPx = 12;
  g.font = `${fontPx}px system-ui, sans-serif`;
  const lines = wrap(g, text, 200, 3);
  const w = Math.max(...lines.map((l) => g.measureText(l).width)) + 14;
  const h = lines.length * (fontPx + 3) + 10;
  return { lines, w, h, fontPx, tail: 8 };
}

/** Draw a bubble sized by `bubbleBox` with its tail's tip at (cx, cy), in screen pixels. */
export function drawBubbleAt(g, box, cx, cy) {
  const { lines, w, h, fontPx } = box;
  const x = cx - w / 2;
  const y = cy - h - box.tail;
  g.font = `${fontPx}px system-ui, sans-serif`;
  g.fillStyle = '#fffdf5';
  g.strokeStyle = '#5b5147';
  g.lineWidth = 1;
  roundRect(g, x, y, w, h, 7);
  g.fill();
  g.stroke();
  g.beginPath();  // the tail
  g.moveTo(cx - 5, y + h);
  g.lineTo(cx, y + h + box.tail);
  g.lineTo(cx + 5, y + h);
  g.closePath();
  g.fill();
  g.beginPath();
  g.moveTo(cx - 5, y + h);
  g.lineTo(cx, y + h + box.tail);
  g.lineTo(cx + 5, y + h);
  g.stroke();
  g.fillStyle = '#1d232a';
  g.textAlign = 'left';
  g.textBaseline = 'top';
  lines.forEach((l, i) => g.fillText(l, x + 7, y + 5 + i * (fontPx + 3)));
}
