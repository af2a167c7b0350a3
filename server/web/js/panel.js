// The side panel's read-only parts: the header, the inspector (an agent's bio, goal, plan,
// memories, chats and cash history, or a building's equipment) and the activity feed. The agent
// list is agentlist.js.

import { $, el, money } from './dom.js';
import { spriteColor } from './paint.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

export class Panel {
  /**
   * @param {import('./store.js').TownStore} store
   * @param {import('./net.js').Connection} conn
   * @param {{onSelect(id), onFollow(id)}} handlers
   */
  constructor(store, conn, handlers) {
    this.store = store;
    this.conn = conn;
    this.handlers = handlers;
    this.selected = null;      // {kind: 'agent'|'building', id}
    this.detail = null;        // the last get_agent answer for the selected agent
    this.loadingFor = null;
    this.renderQueued = false;
    this.refreshTimer = null;
    store.subscribe((what) => this.queueRender(what));
  }

  /** Render at most once per animation frame, however many pushes arrive. */
  queueRender(what) {
    if (what === 'tick' && this.selected?.kind === 'agent') this.scheduleRefresh();
    if (what === 'buildings' && this.selected?.kind === 'building') this.renderBuilding();
    if (this.renderQueued) return;
    this.renderQueued = true;
    requestAnimationFrame(() => {
      this.renderQueued = false;
      this.renderHeader();
      this.renderFeed();
    });
  }

  renderHeader() {
    const s = this.store;
    $('town-name').textContent = s.name || 'AI Town';
    document.title = s.name ? `${s.name} · AI Town` : 'AI Town';
    $('clock').textContent = s.clock || '—';
    $('tick').textContent = String(s.tick);
    $('paused-badge').hidden = !s.paused;
  }

  renderFeed() {
    const feed = $('feed');
    const last = this.store.feed[this.store.feed.length - 1];
    const lines = last?.lines?.length || 0;  // a thread grows in place (threads.js)
    if (last && last === this.lastFed && lines === this.lastFedLines) return;  // nothing new
    this.lastFed = last;
    this.lastFedLines = lines;
    const items = this.store.feed.slice(-25).reverse();
    feed.replaceChildren(...items.map((f) => el('li', {}, el('span', { class: 'feed-tick' }, `#${f.tick}`), ' ', f.text,
      // a conversation: its lines as one thread
      ...(f.lines ? [el('ol', { class: 'thread' }, ...f.lines.map((line) => el('li', {}, line)))] : []))));
    if (!items.length) feed.replaceChildren(el('li', { class: 'hint' }, 'No events since this page opened.'));
  }

  // ----- the inspector -----

  async showAgent(id) {
    this.selected = { kind: 'agent', id };
    this.detail = null;
    $('inspector').hidden = false;
    this.queueRender('select');
    await this.loadAgent();
  }

  showBuilding(id) {
    this.selected = { kind: 'building', id };
    this.detail = null;
    $('inspector').hidden = false;
    this.queueRender('select');
    this.renderBuilding();
  }

  clear() {
    this.selected = null;
    this.detail = null;
    $('inspector').hidden = true;
    this.queueRender('select');
  }

  /** Re-fetch the selected agent after a tick, at most every 700 ms. */
  scheduleRefresh() {
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      if (this.selected?.kind === 'agent') this.loadAgent();
    }, 700);
  }

  async loadAgent() {
    const id = this.selected?.id;
    if (!id || !this.conn.connected) {
      this.renderAgent();
      return;
    }
    this.loadingFor = id;
    try {
      const d = await this.conn.request('get_agent', { agent_id: id, memories: 12, ledger: 200 });
      if (this.selected?.kind === 'agent' && this.selected.id === id) {
        this.detail = d;
        this.store.refreshAgent(d.agent);
      }
    } catch (e) {
      if (this.selected?.id === id) this.detail = { error: e.message };
    } finally {
      this.loadingFor = null;
    }
    this.renderAgent();
  }

  renderAgent() {
    const body = $('inspector-body');
    const id = this.selected?.id;
    const live = this.store.agents.get(id);
    const d = this.detail;
    $('inspector-h').textContent = live?.name || d?.agent?.name || 'Agent';
    if (!live && !d?.agent) {
      body.replaceChildren(el('p', { class: 'hint' }, 'This agent is not in town.'));
      return;
    }
    const a = { ...(d?.agent || {}), ...(live || {}) };
    const parts = [
      el('div', { class: 'inspect-head' },
        el('span', { class: 'swatch big', style: `background:${spriteColor(a.sprite, a.id)}`, 'aria-hidden': 'true' }),
        el('div', { class: 'inspect-what' },
          el('div', { class: 'doing' }, a.label || ''),
          el('div', { class: 'meta' }, `${a.state} · ${money(a.cash)} · (${a.x}, ${a.y})`,
            a.owner ? ` · player ${a.owner}` : '', ` · ${a.plan}/${a.memory} · ${a.llm}`)),
        this.followButton(a.id)),
      field('Bio', a.bio),
      field('Goal', a.goal),
    ];
    if (a.purpose) parts.push(field('Purpose', a.purpose));
    if (a.last_error) parts.push(field('Last error', `${a.last_error} (${a.failures} failures)`, 'error-text'));
    if (d?.error) parts.push(el('p', { class: 'error' }, d.error));
    if (d && !d.error) {
      parts.push(field('Plan', d.plan || '—', 'plan'));
      parts.push(this.cashBlock(a, d.ledger));
      parts.push(el('h3', {}, 'Recent memories'));
      parts.push(d.memories.length
        ? el('ol', { class: 'memories' }, d.memories.slice().reverse().map((m) =>
          el('li', {}, el('span', { class: 'mem-kind' }, m.kind), ` #${m.tick} `, m.text)))
        : el('p', { class: 'hint' }, 'No memories yet.'));
      parts.push(el('h3', {}, 'Recent chats'));
      parts.push(d.chats.length
        ? el('ol', { class: 'chats' }, d.chats.slice().reverse().map((c) =>
          el('li', {}, el('strong', {}, this.store.nameOf(c.agent_id)), ' → ', this.store.nameOf(c.other_id) || 'all',
            `: ${c.text}`)))
        : el('p', { class: 'hint' }, 'No chats yet.'));
    } else if (!d) {
      parts.push(el('p', { class: 'hint' }, 'Loading…'));
    }
    body.replaceChildren(...parts);
  }

  /** "Follow": the map keeps this agent in the middle of the view (pressed again, stops). */
  followButton(id) {
    const on = this.following === id;
    return el('button', { type: 'button', class: 'follow', 'aria-pressed': on ? 'true' : 'false',
      onclick: () => this.handlers.onFollow(this.following === id ? null : id) }, on ? 'Following' : 'Follow');
  }

  /** The map's followed agent changed (a drag stops following): update the button. */
  setFollowing(id) {
    this.following = id;
    const b = document.querySelector('#inspector .follow');
    if (b) {
      const on = this.selected?.id === id && id !== null;
      b.setAttribute('aria-pressed', on ? 'true' : 'false');
      b.textContent = on ? 'Following' : 'Follow';
    }
  }

  /** The cash history: a sparkline of the balance and a table of the latest entries. */
  cashBlock(a, ledger) {
    const acct = `agent:${a.id}`;
    // Walk back from today's balance to get the balance after each entry.
    const balances = [];
    let bal = a.cash;
    for (let i = ledger.length - 1; i >= 0; i--) {
      balances.unshift(bal);
      const e = ledger[i];
      bal -= e.dst === acct ? e.amount : -e.amount;
    }
    const wrap = el('div', { class: 'cash-block' }, el('h3', {}, 'Cash history'));
    if (!ledger.length) {
      wrap.append(el('p', { class: 'hint' }, 'No cash movements yet.'));
      return wrap;
    }
    wrap.append(sparkline([bal, ...balances]));
    const rows = ledger.slice(-8).reverse().map((e) => {
      const inflow = e.dst === acct;
      const other = inflow ? e.src : e.dst;
      return el('tr', {},
        el('td', {}, `#${e.tick}`),
        el('td', { class: inflow ? 'pos' : 'neg' }, `${inflow ? '+' : '−'}${e.amount}`),
        el('td', {}, e.reason || ''),
        el('td', { class: 'muted' }, other.replace(/^agent:/, '')));
    });
    wrap.append(el('table', { class: 'ledger' },
      el('caption', { class: 'sr-only' }, 'Latest cash movements'),
      el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Tick'), el('th', { scope: 'col' }, 'Amount'),
        el('th', { scope: 'col' }, 'Reason'), el('th', { scope: 'col' }, 'With'))),
      el('tbody', {}, rows)));
    return wrap;
  }

  renderBuilding() {
    const b = this.store.buildings.get(this.selected?.id);
    const body = $('inspector-body');
    $('inspector-h').textContent = b ? b.name : 'Building';
    if (!b) {
      body.replaceChildren(el('p', { class: 'hint' }, 'No such building.'));
      return;
    }
    body.replaceChildren(
      el('div', { class: 'meta' }, `${b.template} · ${b.kind} · ${b.w}×${b.h} at (${b.x}, ${b.y})`,
        b.owner ? ` · built by ${b.owner}` : ''),
      field('About', b.description),
      el('h3', {}, `Equipment (${b.equipment.length})`),
      el('table', { class: 'ledger' },
        el('thead', {}, el('tr', {}, ['Name', 'Does', 'Price', 'Pays', 'In use'].map((h) => el('th', { scope: 'col' }, h)))),
        el('tbody', {}, b.equipment.map((q) => el('tr', {},
          el('td', { title: q.description }, q.label || q.name), el('td', {}, does(q)),
          el('td', {}, money(q.price)), el('td', {}, money(q.income)),
          el('td', {}, `${q.users.length}/${q.capacity}`))))));
  }
}

/** An equipment's operations, with their own prices and its menu when it has them. */
function does(q) {
  const ops = (q.functions || []).length
    ? q.functions.map((f) => `${f.name}${f.cost ? ' −' + money(f.cost) : ''}${f.earn ? ' +' + money(f.earn) : ''}${f.owner_only ? ' (staff)' : ''}`)
    : q.operations;
  const menu = Object.entries(q.menu || {}).map(([item, price]) => `${item} ${money(price)}`);
  return ops.join(', ') + (menu.length ? `; menu: ${menu.join(', ')}` : '') + (q.beds ? `; ${q.beds} beds` : '');
}

function field(label, value, cls = '') {
  return el('div', { class: 'field-view ' + cls }, el('span', { class: 'label' }, label), el('p', {}, value || '—'));
}

/** An SVG polyline of a series of numbers. */
function sparkline(values, w = 300, h = 48) {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  svg.setAttribute('class', 'sparkline');
  svg.setAttribute('role', 'img');
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  svg.setAttribute('aria-label', `Balance over the last ${values.length - 1} movements, from ${values[0]} to ${values[values.length - 1]} (low ${lo}, high ${hi})`);
  const span = hi - lo || 1;
  const pts = values.map((v, i) => {
    const x = values.length === 1 ? w / 2 : (i / (values.length - 1)) * (w - 4) + 2;
    const y = h - 4 - ((v - lo) / span) * (h - 8);
    return `${x.toFixed(1)},${y.toFixed(1)}`;
  });
  const area = document.createElementNS(SVG_NS, 'polygon');
  area.setAttribute('points', `2,${h - 2} ${pts.join(' ')} ${w - 2},${h - 2}`);
  area.setAttribute('class', 'spark-area');
  const line = document.createElementNS(SVG_NS, 'polyline');
  line.setAttribute('points', pts.join(' '));
  line.setAttribute('class', 'spark-line');
  svg.append(area, line);
  return svg;
}
