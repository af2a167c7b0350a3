// The picker for a crowded spot: tapping a marker that stands for several agents lists them, by
// name, next to the marker (a sheet-wide list on a phone); choosing one selects it. Esc, a tap
// elsewhere or the close button dismisses it.

import { $, el } from './dom.js';
import { spriteColor } from './paint.js';

export class Picker {
  /**
   * @param {import('./store.js').TownStore} store
   * @param {{onSelect(id)}} handlers
   */
  constructor(store, handlers) {
    this.store = store;
    this.handlers = handlers;
    this.box = $('picker');
    this.list = $('picker-list');
    $('picker-close').addEventListener('click', () => this.close());
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && !this.box.hidden) this.close();
    });
    document.addEventListener('pointerdown', (e) => {
      if (!this.box.hidden && !this.box.contains(e.target)) this.close();
    }, true);
  }

  get open() {
    return !this.box.hidden;
  }

  /** List the agents `ids` next to page point `at` ({x, y}). */
  show(ids, at) {
    const agents = ids.map((id) => this.store.agents.get(id)).filter(Boolean)
      .sort((a, b) => a.name.localeCompare(b.name));
    $('picker-h').textContent = `${agents.length} agents here`;
    this.list.replaceChildren(...agents.map((a) => el('li', {},
      el('button', { type: 'button', class: 'pick', dataset: { agentId: a.id }, onclick: () => this.choose(a.id) },
        el('span', { class: 'swatch', style: `background:${spriteColor(a.sprite, a.id)}`, 'aria-hidden': 'true' }),
        el('span', { class: 'agent-name' }, a.name),
        el('span', { class: `state state-${a.state}` }, a.state)))));
    this.box.hidden = false;
    // Beside the marker, kept inside the window (the phone layout pins it with CSS instead).
    const r = this.box.getBoundingClientRect();
    const x = Math.min(window.innerWidth - r.width - 8, Math.max(8, at.x + 14));
    const y = Math.min(window.innerHeight - r.height - 8, Math.max(8, at.y - 20));
    this.box.style.left = `${x}px`;
    this.box.style.top = `${y}px`;
    this.list.querySelector('button')?.focus({ preventScroll: true });
  }

  choose(id) {
    this.close();
    this.handlers.onSelect(id);
  }

  close() {
    this.box.hidden = true;
    this.list.replaceChildren();
  }
}
