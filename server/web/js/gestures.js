// Pointer input on the map, for mouse, pen and touch alike: drag to pan, wheel or two-finger
// pinch to zoom, double-tap (or double-click) to zoom in, a tap or click to pick, arrow keys and
// +/- on the focused canvas. Positions handed on are CSS pixels in the canvas.

const DRAG_THRESHOLD = 6;      // px a pointer may wander and still make a tap
const DOUBLE_TAP_MS = 300;
const DOUBLE_TAP_PX = 30;

/**
 * @param {HTMLCanvasElement} canvas
 * @param {import('./camera.js').Camera} cam
 * @param {{tap(p, e), hover(p|null), key(name), gesture()}} on  gesture(): the user moved the view
 */
export function bindGestures(canvas, cam, on) {
  const pointers = new Map();  // pointerId -> {x, y}
  let drag = null;             // one pointer down: {x, y, moved}
  let pinch = null;            // two pointers down: {dist, mx, my}
  let lastTap = null;          // {t, x, y}
  const local = (e) => {
    const r = canvas.getBoundingClientRect();
    return { x: e.clientX - r.left, y: e.clientY - r.top };
  };
  const pinchState = () => {
    const [a, b] = [...pointers.values()];
    return { dist: Math.hypot(a.x - b.x, a.y - b.y) || 1, mx: (a.x + b.x) / 2, my: (a.y + b.y) / 2 };
  };

  canvas.addEventListener('pointerdown', (e) => {
    if (e.pointerType === 'mouse' && e.button !== 0) return;
    const p = local(e);
    pointers.set(e.pointerId, p);
    canvas.setPointerCapture?.(e.pointerId);
    if (pointers.size === 1) {
      drag = { x: p.x, y: p.y, moved: false };
    } else if (pointers.size === 2) {
      pinch = pinchState();
      if (drag) drag.moved = true;  // a pinch never ends in a tap
    }
  });
  canvas.addEventListener('pointermove', (e) => {
    const p = local(e);
    if (e.pointerType === 'mouse') on.hover(p);
    const prev = pointers.get(e.pointerId);
    if (!prev) return;
    pointers.set(e.pointerId, p);
    if (pinch && pointers.size >= 2) {
      const now = pinchState();
      cam.zoomAt(now.dist / pinch.dist, pinch.mx, pinch.my);
      cam.panBy(now.mx - pinch.mx, now.my - pinch.my);
      pinch = now;
      on.gesture();
      return;
    }
    if (drag) {
      if (drag.moved) {
        cam.panBy(p.x - prev.x, p.y - prev.y);
        on.gesture();
      } else if (Math.hypot(p.x - drag.x, p.y - drag.y) > DRAG_THRESHOLD) {
        drag.moved = true;  // the view follows from where the drag began
        cam.panBy(p.x - drag.x, p.y - drag.y);
        on.gesture();
      }
    }
    canvas.style.cursor = drag?.moved ? 'grabbing' : '';
  });
  const end = (e, cancelled) => {
    if (!pointers.delete(e.pointerId)) return;
    if (pointers.size < 2) pinch = null;
    if (pointers.size > 0) return;
    const d = drag;
    drag = null;
    canvas.style.cursor = '';
    if (cancelled || !d || d.moved) return;
    const p = local(e);
    const t = performance.now();
    if (lastTap && t - lastTap.t < DOUBLE_TAP_MS && Math.hypot(p.x - lastTap.x, p.y - lastTap.y) < DOUBLE_TAP_PX) {
      lastTap = null;
      cam.zoomAt(2, p.x, p.y);
      on.gesture();
      return;
    }
    lastTap = { t, x: p.x, y: p.y };
    on.tap(p, e);
  };
  canvas.addEventListener('pointerup', (e) => end(e, false));
  canvas.addEventListener('pointercancel', (e) => end(e, true));
  canvas.addEventListener('pointerleave', (e) => {
    if (e.pointerType === 'mouse') on.hover(null);
  });
  canvas.addEventListener('wheel', (e) => {
    e.preventDefault();
    const p = local(e);
    cam.zoomAt(Math.exp(-e.deltaY * 0.0015), p.x, p.y);
    on.gesture();
  }, { passive: false });
  canvas.addEventListener('keydown', (e) => {
    const step = 40;
    const keys = {
      ArrowLeft: () => cam.panBy(step, 0), ArrowRight: () => cam.panBy(-step, 0),
      ArrowUp: () => cam.panBy(0, step), ArrowDown: () => cam.panBy(0, -step),
      '+': () => cam.zoomAt(1.25), '=': () => cam.zoomAt(1.25), '-': () => cam.zoomAt(0.8),
    };
    if (keys[e.key]) {
      e.preventDefault();
      keys[e.key]();
      on.gesture();
    } else if (e.key === 'Escape') {
      on.key('Escape');
    }
  });
}
