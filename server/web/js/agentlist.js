// The agent list: search by name, filter by state and by building (at it or heading to it), and
// a virtual list: only the rows in view exist in the page (a pool reused as it scrolls), so a
// town of thousands costs a few dozen elements. A tick updates only the rows of the agents it
// changed; the order (by name) is worked out again only when agents arrive or leave.

import { $, el, fillSelect, money } from './dom.js';
import { spriteColor } from './paint.js';

const STATES = ['inited', 'planning', 'moving', 'using', 'chatting', 'idle'];
const OVERSCAN = 4;  // rows drawn beyond each edge of the view

export class AgentList {
  /**
   * @param {import('./store.js').TownStore} store
   * @param {{onSelect(id)}} handlers
   */
  constructor(store, handlers) {
    this.store = store;
    this.handlers = handlers;
    this.scroller = $('agent-scroll');
    this.list = $('agent-list');
    this.search = $('agent-search');
    this.stateSel = $('agent-state');
    this.buildingSel = $('agent-building');
    this.selected = null;
    this.sorted = [];          // every agent id, by name
    this.sortedFor = -1;       // store.membership the order was made for
    this.shown = [];           // ids passing the filters, in order
    this.rows = new Map();     // id -> row element set, for the rows in the page
    this.pool = [];            // rows not in use
    this.rowH = 0;
    this.queued = false;
    this.pending = new Set();  // agents changed since the last render
    fillSelect(this.stateSel, [{ value: '', label: 'Any state' }, ...STATES.map((s) => ({ value: s, label: s }))]);
    for (const input of [this.search, this.stateSel, this.buildingSel]) {
      input.addEventListener(input === this.search ? 'input' : 'change', () => {
        this.filter();
        this.scroller.scrollTop = 0;
        this.render(true);
      });
    }
    this.scroller.addEventListener('scroll', () => this.queue(false), { passive: true });
    window.addEventListener('resize', () => this.queue(true));
    store.subscribe((what) => this.onChange(what));
  }

  onChange(what) {
    if (what === 'town' || what === 'buildings') this.fillBuildings();
    for (const id of this.store.changedIds) this.pending.add(id);  // rows to refresh at the next render
    // A tick can move agents in or out of a state or building filter.
    const filtered = this.stateSel.value || this.buildingSel.value;
    if (this.sortedFor !== this.store.membership || (what === 'tick' && filtered) || what === 'agent') this.filter();
    this.queue(what !== 'tick');
  }

  /** Render at most once a frame. `all` re-renders every row; otherwise only changed agents'. */
  queue(all) {
    this.all = this.all || all;
    if (this.queued) return;
    this.queued = true;
    requestAnimationFrame(() => {
      this.queued = false;
      const everything = this.all;
      this.all = false;
      this.render(everything);
    });
  }

  fillBuildings() {
    const bs = [...this.store.buildings.values()].sort((a, b) => a.name.localeCompare(b.name));
    fillSelect(this.buildingSel, [{ value: '', label: 'Any building' }, ...bs.map((b) => ({ value: b.id, label: b.name }))]);
  }

  /** Work out which agents show, in name order. */
  filter() {
    const s = this.store;
    if (this.sortedFor !== s.membership) {
      this.sorted = [...s.agents.values()].sort((a, b) => a.name.localeCompare(b.name)).map((a) => a.id);
      this.sortedFor = s.membership;
    }
    const q = this.search.value.trim().toLowerCase();
    const state = this.stateSel.value;
    const bid = this.buildingSel.value;
    const b = bid ? s.buildings.get(bid) : null;
    this.shown = this.sorted.filter((id) => {
      const a = s.agents.get(id);
      if (!a) return false;
      if (q && !a.name.toLowerCase().includes(q)) return false;
      if (state && a.state !== state) return false;
      if (b && a.target !== b.id && !(a.x >= b.x && a.x < b.x + b.w && a.y >= b.y && a.y < b.y + b.h)) return false;
      return true;
    });
  }

  select(id) {
    this.selected = id;
    this.queue(true);
  }

  /** Scroll so agent `id` is in view (when it passes the filters). */
  scrollTo(id) {
    const i = this.shown.indexOf(id);
    if (i < 0 || !this.rowH) return;
    const top = i * this.rowH;
    if (top < this.scroller.scrollTop || top + this.rowH > this.scroller.scrollTop + this.scroller.clientHeight) {
      this.scroller.scrollTop = Math.max(0, top - this.scroller.clientHeight / 2);
    }
  }

  render(all) {
    const s = this.store;
    const n = this.shown.length;
    $('agent-count').textContent = n === s.agents.size ? `(${n})` : `(${n} of ${s.agents.size})`;
    const rowH = (this.rowH = parseFloat(getComputedStyle(this.list).getPropertyValue('--row-h')) || 52);
    this.list.style.height = `${n * rowH}px`;
    const viewH = this.scroller.clientHeight || rowH * 8;
    const first = Math.max(0, Math.floor(this.scroller.scrollTop / rowH) - OVERSCAN);
    const last = Math.min(n, Math.ceil((this.scroller.scrollTop + viewH) / rowH) + OVERSCAN);
    const want = new Set(this.shown.slice(first, last));
    for (const [id, row] of this.rows) {
      if (!want.has(id)) {
        this.rows.delete(id);
        row.li.remove();
        this.pool.push(row);
      }
    }
    const changed = this.pending;
    this.pending = new Set();
    for (let i = first; i < last; i++) {
      const id = this.shown[i];
      let row = this.rows.get(id);
      const fresh = !row;
      if (fresh) {
        row = this.pool.pop() || this.makeRow();
        this.rows.set(id, row);
        row.id = id;
        row.button.dataset.agentId = id;
        this.list.append(row.li);
      }
      row.li.style.transform = `translateY(${i * rowH}px)`;
      row.li.setAttribute('aria-posinset', String(i + 1));
      row.li.setAttribute('aria-setsize', String(n));
      if (fresh || all || changed.has(id)) this.fill(row, s.agents.get(id));
    }
  }

  fill(row, a) {
    if (!a) return;
    const sel = this.selected === a.id;
    row.button.className = 'agent-item' + (sel ? ' selected' : '');
    row.button.setAttribute('aria-pressed', sel ? 'true' : 'false');
    row.swatch.style.background = spriteColor(a.sprite, a.id);
    setText(row.name, a.name);
    setText(row.doing, a.label || '');
    setText(row.state, a.state);
    row.state.className = `state state-${a.state}`;
    setText(row.cash, money(a.cash));
    row.button.title = a.purpose || '';
  }

  makeRow() {
    const r = {
      id: null,
      swatch: el('span', { class: 'swatch', 'aria-hidden': 'true' }),
      name: el('span', { class: 'agent-name' }),
      doing: el('span', { class: 'agent-doing' }),
      state: el('span', { class: 'state' }),
      cash: el('span', { class: 'cash' }),
    };
    r.button = el('button', { type: 'button', class: 'agent-item', onclick: () => this.handlers.onSelect(r.id) },
      r.swatch, el('span', { class: 'agent-main' }, r.name, r.doing), el('span', { class: 'agent-side' }, r.state, r.cash));
    r.li = el('li', {}, r.button);
    return r;
  }
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}
