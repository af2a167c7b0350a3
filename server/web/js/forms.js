// What a person does on the page: log in, create an agent, chat with the selected agent, put
// up a building (pick a template, click a place on the map, choose who pays), and, as the
// admin, start, pause and step the clock. Every server refusal is shown next to the control
// that caused it, in the server's own words.

import { $, el, fillSelect, money } from './dom.js';
import { SPRITES } from './paint.js';

const AUTO_TICK_MS = 2000;

/** The text to show for a failed request. */
export function explain(err) {
  if (err?.code === 'disconnected') return 'Not connected to the server; try again once it is back.';
  return err?.message || String(err);
}

export class Forms {
  /**
   * @param {{store, conn, map, panel, session}} deps  session: {role, player, creds, info}
   */
  constructor({ store, conn, map, panel, session }) {
    this.store = store;
    this.conn = conn;
    this.map = map;
    this.panel = panel;
    this.session = session;
    this.autoTimer = null;
    this.ticking = false;
    this.bindLogin();
    this.bindRegister();
    this.bindChat();
    this.bindBuild();
    this.bindAdmin();
    store.subscribe((what) => {
      // A tick only changes cash, so only the payers; rebuilding every select would close an open one.
      if (what === 'tick') this.refreshPayers();
      else if (['town', 'agents', 'buildings'].includes(what)) this.refreshChoices();
      if (what === 'paused' || what === 'town') this.renderAdmin();
    });
    const saved = localStorage.getItem('aitown.player');
    if (saved) $('login-player').value = saved;
  }

  // ----- login -----

  bindLogin() {
    $('login-form').addEventListener('submit', async (e) => {
      e.preventDefault();
      const player = $('login-player').value.trim();
      const token = $('login-token').value;
      $('login-error').textContent = '';
      if (!player && !token) {
        $('login-error').textContent = 'Enter a player name (and the admin token to run the town).';
        return;
      }
      const creds = {};
      if (player) {
        creds.player = player;
        creds.secret = playerSecret(player);
      }
      if (token) creds.token = token;
      try {
        await this.login(creds);
        $('login-token').value = '';
        if (player) localStorage.setItem('aitown.player', player);
      } catch (err) {
        $('login-error').textContent = explain(err);
      }
    });
    // There is no logout command: a fresh page is a fresh viewer session.
    $('logout').addEventListener('click', () => window.location.reload());
  }

  /** Log in with `creds` ({player?, secret?, token?}); kept in memory to log in again after a reconnect. */
  async login(creds) {
    const r = await this.conn.request('login', creds);
    this.session.creds = creds;
    this.session.role = r.role;
    this.session.player = r.player;
    this.renderSession();
    return r;
  }

  renderSession() {
    const { role, player } = this.session;
    const acting = role === 'player' || role === 'admin';
    $('login-form').hidden = acting;
    $('whoami').hidden = !acting;
    $('who-player').textContent = player || '(no player name)';
    $('who-role').textContent = role;
    $('register-box').hidden = !acting;
    $('build-box').hidden = !acting;
    $('viewer-note').hidden = acting;
    $('admin-controls').hidden = role !== 'admin';
    $('chat-form').hidden = !acting || this.panel.selected?.kind !== 'agent';
    this.refreshChoices();
    this.renderAdmin();
    this.onSession?.();  // others showing what a session may do (play.js)
  }

  /** Selects that depend on `info` and the town: modules, LLMs, homes, templates, payers. */
  refreshChoices() {
    const info = this.session.info;
    if (info) {
      fillSelect($('reg-llm'), info.llms);
      fillSelect($('reg-plan'), info.plan_modules);
      fillSelect($('reg-memory'), info.memory_modules);
    }
    if (!$('reg-sprite').options.length) fillSelect($('reg-sprite'), Object.keys(SPRITES));
    const buildings = [...this.store.buildings.values()].sort((a, b) => a.name.localeCompare(b.name));
    fillSelect($('reg-home'), [{ value: '', label: 'anywhere (a free spot)' },
      ...buildings.map((b) => ({ value: b.id, label: b.name }))]);
    fillSelect($('build-template'), this.store.templates.map((t) => ({
      value: t.name, label: `${t.name} — ${money(t.price)}, ${t.w}×${t.h}`,
    })));
    this.renderTemplateHint();
    this.refreshPayers();
  }

  /** Who may pay for a building: the player's own agents (the admin may also build free). */
  refreshPayers() {
    const mine = [...this.store.agents.values()]
      .filter((a) => this.session.role === 'admin' || (a.owner && a.owner === this.session.player))
      .sort((a, b) => a.name.localeCompare(b.name));
    const payers = mine.map((a) => ({ value: a.id, label: `${a.name} (${money(a.cash)})` }));
    if (this.session.role === 'admin') payers.unshift({ value: '', label: 'the town (admin builds free)' });
    if (!payers.length) payers.push({ value: '', label: 'none of your agents yet' });
    fillSelect($('build-payer'), payers);
  }

  // ----- create an agent -----

  bindRegister() {
    const form = $('register-form');
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      this.clearErrors(form);
      $('register-error').textContent = '';
      $('register-ok').textContent = '';
      const f = new FormData(form);
      const cash = Number.parseInt(String(f.get('cash') || '0'), 10);
      const data = {
        name: String(f.get('name') || '').trim(),
        bio: String(f.get('bio') || '').trim(),
        goal: String(f.get('goal') || '').trim(),
        cash: Number.isFinite(cash) ? cash : 0,
        sprite: String(f.get('sprite') || 'default'),
        llm: String(f.get('llm') || 'default'),
        plan: String(f.get('plan') || ''),
        memory: String(f.get('memory') || ''),
      };
      const home = String(f.get('home') || '');
      if (home) data.home = home;
      const btn = form.querySelector('button[type=submit]');
      btn.disabled = true;
      try {
        const r = await this.conn.request('register', data);
        $('register-ok').textContent = `${r.agent.name} has arrived in town.`;
        form.elements.name.value = '';
        if (!this.store.agents.has(r.agent.id)) this.store.addAgent(r.agent);
        this.panel.handlers.onSelect(r.agent.id);
      } catch (err) {
        $('register-error').textContent = explain(err);
        this.markFields(form, err);
      } finally {
        btn.disabled = false;
      }
    });
  }

  /** Flag the inputs an invalid_request message names (`register: name: ...; cash: ...`). */
  markFields(form, err) {
    const msg = err?.message || '';
    for (const input of form.querySelectorAll('input, textarea, select')) {
      const name = input.name;
      if (name && new RegExp(`(^|[:;] )${name}[:.]`).test(msg)) input.setAttribute('aria-invalid', 'true');
    }
    if (err?.code === 'forbidden' && /cash/.test(msg)) form.elements.cash.setAttribute('aria-invalid', 'true');
    if (err?.code === 'conflict' && /named/.test(msg)) form.elements.name.setAttribute('aria-invalid', 'true');
  }

  clearErrors(form) {
    for (const input of form.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
  }

  // ----- chat with the selected agent -----

  bindChat() {
    $('chat-form').addEventListener('submit', async (e) => {
      e.preventDefault();
      const id = this.panel.selected?.id;
      const input = $('chat-text');
      const text = input.value.trim();
      if (!id || !text) return;
      const name = this.store.nameOf(id);
      const log = $('chat-log');
      $('chat-error').textContent = '';
      log.append(el('li', { class: 'me' }, el('strong', {}, 'You: '), text));
      const waiting = el('li', { class: 'them waiting' }, `${name} is thinking…`);
      log.append(waiting);
      input.value = '';
      input.disabled = true;
      try {
        const r = await this.conn.request('chat_with_npc', { agent_id: id, text });
        waiting.replaceWith(el('li', { class: 'them', dataset: { failed: r.failed ? 'true' : 'false' } },
          el('strong', {}, `${name}: `), r.reply, r.failed ? el('em', {}, ' (the model failed; a fallback reply)') : null));
        this.panel.scheduleRefresh();
      } catch (err) {
        waiting.remove();
        $('chat-error').textContent = explain(err);
      } finally {
        input.disabled = false;
        input.focus();
      }
    });
  }

  /** The chat box follows the inspector: a fresh log per agent. */
  onSelectAgent(id) {
    $('chat-name').textContent = this.store.nameOf(id);
    $('chat-log').replaceChildren();
    $('chat-error').textContent = '';
    const acting = this.session.role === 'player' || this.session.role === 'admin';
    $('chat-form').hidden = !acting;
  }

  // ----- put up a building -----

  bindBuild() {
    $('build-template').addEventListener('change', () => this.renderTemplateHint());
    $('build-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const tpl = this.store.templates.find((t) => t.name === $('build-template').value);
      if (!tpl) return;
      $('build-error').textContent = '';
      $('build-ok').textContent = '';
      this.startPlacing(tpl);
    });
    $('place-cancel').addEventListener('click', () => this.stopPlacing());
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && this.map.placing) this.stopPlacing();
    });
  }

  renderTemplateHint() {
    const tpl = this.store.templates.find((t) => t.name === $('build-template').value);
    $('build-desc').textContent = tpl
      ? `${tpl.description} Costs ${money(tpl.price)}; takes ${tpl.w}×${tpl.h} tiles; equipment: ${tpl.equipment.join(', ')}.`
      : '';
  }

  startPlacing(tpl) {
    this.map.placing = tpl;
    $('place-text').textContent = `Click the map where the top-left corner of the ${tpl.name} goes (${tpl.w}×${tpl.h}). Esc cancels.`;
    $('place-hint').hidden = false;
    $('map').focus();
  }

  stopPlacing() {
    this.map.placing = null;
    $('place-hint').hidden = true;
  }

  /** The map was clicked while placing: ask the server to build there. */
  async place(x, y) {
    const tpl = this.map.placing;
    if (!tpl) return;
    this.stopPlacing();
    const data = { template: tpl.name, x, y };
    const name = $('build-name').value.trim();
    if (name) data.name = name;
    const payer = $('build-payer').value;
    if (payer) data.payer = payer;
    try {
      const r = await this.conn.request('create_building', data);
      if (!this.store.buildings.has(r.building.id)) this.store.addBuilding(r.building);
      $('build-ok').textContent = `${r.building.name} stands at (${x}, ${y})` + (r.paid ? `; paid ${money(r.paid)}.` : '.');
      $('build-name').value = '';
    } catch (err) {
      const what = { conflict: 'Cannot build there', insufficient_funds: 'Not enough cash', forbidden: 'Not allowed' }[err.code];
      $('build-error').textContent = (what ? `${what}: ` : '') + explain(err);
      $('build-box').open = true;
    }
  }

  // ----- admin: start, pause, step -----

  bindAdmin() {
    $('btn-play').addEventListener('click', () => this.adminCall('pause', { on: false }));
    $('btn-pause').addEventListener('click', () => this.adminCall('pause', { on: true }));
    $('btn-step').addEventListener('click', () => this.step());
    $('auto-tick').addEventListener('change', () => this.scheduleAuto());
  }

  async adminCall(command, data) {
    $('admin-msg').textContent = '';
    try {
      const r = await this.conn.request(command, data);
      if (command === 'pause') this.store.setPaused(r.paused);
      return r;
    } catch (err) {
      $('admin-msg').textContent = explain(err);
      return null;
    }
  }

  async step() {
    if (this.ticking) return;
    this.ticking = true;
    $('btn-step').disabled = true;
    try {
      const r = await this.adminCall('tick', { count: 1 });
      if (r) $('admin-msg').textContent = `tick ${r.tick}: ${r.stepped} thought, ${r.moved} moved, ${r.llm_calls} LLM calls` + (r.cost_usd ? ` ($${r.cost_usd.toFixed(4)})` : '') + (r.failures ? `, ${r.failures} failed` : '');
    } finally {
      this.ticking = false;
      $('btn-step').disabled = false;
      this.scheduleAuto();
    }
  }

  /** "Tick from this page": one tick every AUTO_TICK_MS while checked, admin, connected and not paused. */
  scheduleAuto() {
    clearTimeout(this.autoTimer);
    this.autoTimer = null;
    if (!$('auto-tick').checked) return;
    this.autoTimer = setTimeout(() => {
      this.autoTimer = null;
      if (this.session.role === 'admin' && this.conn.connected && !this.store.paused) this.step();
      else this.scheduleAuto();
    }, AUTO_TICK_MS);
  }

  renderAdmin() {
    const paused = this.store.paused;
    $('btn-play').disabled = !paused;
    $('btn-pause').disabled = paused;
    $('btn-step').title = paused ? 'Ticking is paused: start it to step' : 'Run one tick now';
  }
}

/**
 * The secret this browser logs in with as `player`: made at random on first use and kept in
 * localStorage (`aitown.secret:<name>`); the server stores only its hash, and a claimed player
 * name needs it. Copy it from localStorage to play the same name in another browser.
 */
function playerSecret(player) {
  const key = `aitown.secret:${player.normalize('NFKC').toLowerCase().replace(/\s+/g, ' ')}`;
  let secret = localStorage.getItem(key);
  if (!secret) {
    const bytes = crypto.getRandomValues(new Uint8Array(24));
    secret = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
    localStorage.setItem(key, secret);
  }
  return secret;
}
