// Small DOM helpers. Text from the server (names, chats, memories) is always set as text,
// never parsed as HTML.

/** `el('li', {class: 'x', dataset: {id: 'a'}}, 'text', child)`: an element with attributes and children. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k === 'style') node.style.cssText = v;
    else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export const $ = (id) => document.getElementById(id);

/** Replace the options of a <select>: `items` are strings or {value, label}. Keeps the choice if it still exists. */
export function fillSelect(select, items, keep = true) {
  const prev = select.value;
  select.replaceChildren(...items.map((it) => {
    const o = typeof it === 'string' ? { value: it, label: it } : it;
    return el('option', { value: o.value }, o.label);
  }));
  if (keep && items.some((it) => (typeof it === 'string' ? it : it.value) === prev)) select.value = prev;
}

export function money(n) {
  return `$${Number(n).toLocaleString('en-US')}`;
}
