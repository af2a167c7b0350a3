// Playing as a character (docs/playing.md): join the town as an avatar, walk it by tapping a
// tile or a building (or with the arrow keys on the focused map), use the equipment where it
// stands, answer in the chat panel of the conversation an agent started with it, leave again.
// The avatar is an agent of the town with `avatar: true` and this player as `owner`; the map
// rings it in blue and the camera follows it.

import { $, el, fillSelect, money } from './dom.js';
import { SPRITES } from './paint.js';

const KEY_STEPS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
const MAX_LINES = 40;  // lines kept per conversation

function explain(err) {
  if (err?.code === 'disconnected') return 'Not connected to the server; try again once it is back.';
  return err?.message || String(err);
}

export class Play {
  /** @param {{store, conn, map, session, selectedAgent: () => string|null}} deps */
  constructor({ store, conn, map, session, selectedAgent }) {
    this.store = store;
    this.conn = conn;
    this.map = map;
    this.session = session;
    this.selectedAgent = selectedAgent;
    this.lines = new Map();   // conversation id -> [{who, text}]
    this.shownConv = null;    // the conversation the chat panel shows (kept after it ends)
    this.hereKey = '';
    fillSelect($('avatar-sprite'), Object.keys(SPRITES));
    $('avatar-join').addEventListener('submit', (e) => { e.preventDefault(); this.join(); });
    $('avatar-leave').addEventListener('click', () => this.leave());
    $('avatar-follow').addEventListener('click', () => { if (this.me) this.map.follow(this.me.id); });
    $('avatar-say').addEventListener('submit', (e) => { e.preventDefault(); this.say(false); });
    $('avatar-bye').addEventListener('click', () => this.say(true));
    // Arrow keys on the focused map walk the avatar (instead of panning) while walking is on.
    window.addEventListener('keydown', (e) => this.key(e), true);
    store.subscribe(() => this.render());
  }

  /** This player's avatar in the town, if any. */
  get me() {
    const p = this.session.player;
    if (!p) return null;
    for (const a of this.store.agents.values()) if (a.avatar && a.owner === p) return a;
    return null;
  }

  get walking() { return !!this.me && $('avatar-walk').checked; }

  async join() {
    $('avatar-error').textContent = '';
    try {
      const r = await this.conn.request('join', { name: $('avatar-name').value.trim(), sprite: $('avatar-sprite').value });
      if (!this.store.agents.has(r.agent.id)) this.store.addAgent(r.agent);
      this.map.follow(r.agent.id);
      this.render();
    } catch (err) {
      $('avatar-error').textContent = explain(err);
    }
  }

  async leave() {
    $('avatar-error').textContent = '';
    try {
      const r = await this.conn.request('leave', {});
      if (this.map.followed === r.agent_id) this.map.unfollow();
      this.store.removeAgent(r.agent_id);
    } catch (err) {
      $('avatar-error').textContent = explain(err);
    }
  }

  /** The map was tapped on tile (x, y) (no agent there): walk there; true if taken. */
  walkTo(x, y) {
    if (!this.walking) return false;
    const b = this.store.buildingAt(x, y);
    this.move(b ? { building_id: b.id } : { x, y });
    return true;
  }

  async move(where) {
    $('avatar-error').textContent = '';
    try {
      const r = await this.conn.request('move_to', where);
      const target = r.target ? this.store.nameOf(r.target) : `(${r.x}, ${r.y})`;
      $('avatar-status').textContent = `Walking to ${target}: ${r.steps} tiles.`;
      const me = this.me;
      if (me) {
        // what the server did (the next tick's push says it to everyone): walking, out of its talk
        Object.assign(me, { state: r.steps ? 'moving' : 'idle', target: r.target, conversation: null });
        this.map.follow(me.id);
        this.store.changed('agent');
      }
    } catch (err) {
      $('avatar-error').textContent = explain(err);
    }
  }

  key(e) {
    const step = KEY_STEPS[e.key];
    if (!step || !this.walking || document.activeElement !== this.map.canvas) return;
    e.preventDefault();
    e.stopPropagation();  // the map does not pan
    const me = this.me;
    this.move({ x: me.x + step[0], y: me.y + step[1] });
  }

  async use(equipmentId, operation) {
    $('avatar-error').textContent = '';
    try {
      const r = await this.conn.request('use', { equipment_id: equipmentId, operation, minutes: 30 });
      $('avatar-status').textContent = `${r.activity}; cash now ${money(r.cash)}.`;
      const me = this.me;
      if (me) {
        Object.assign(me, { cash: r.cash, state: 'using', label: r.activity, conversation: null });
        this.store.changed('agent');
      }
    } catch (err) {
      $('avatar-error').textContent = explain(err);
    }
  }

  async say(end) {
    const input = $('avatar-line');
    const text = input.value.trim() || (end ? 'Goodbye!' : '');
    if (!text) return;
    $('avatar-error').textContent = '';
    const data = { text, end };
    const me = this.me;
    if (me && !me.conversation) {
      const other = this.selectedAgent();
      if (!other || other === me.id) {
        $('avatar-error').textContent = 'Select an agent in sight to talk to, or wait for one to talk to you.';
        return;
      }
      data.agent_id = other;
    }
    try {
      const r = await this.conn.request('say', data);
      input.value = '';
      this.shownConv = r.conversation_id;
      if (me) me.conversation = r.ended ? null : r.conversation_id;
      this.render();
    } catch (err) {
      $('avatar-error').textContent = explain(err);
    }
  }

  /** A tick (decoded): keep the lines of conversations the avatar is in. */
  onTick(data) {
    const me = this.me;
    if (!me) return;
    for (const ev of data.events || []) {
      if (ev.kind !== 'chat' || !ev.conversation_id || (ev.agent_id !== me.id && ev.other_id !== me.id)) continue;
      this.addLine(ev.conversation_id, ev.agent_id, ev.text);
    }
    this.render();
  }

  /** A `line` push: a line an avatar said (ours, or another player's). */
  onLine(d) {
    const me = this.me;
    if (me && d.agent_id === me.id) this.addLine(d.conversation_id, d.agent_id, d.text);
    this.render();
  }

  addLine(cid, who, text) {
    if (!this.lines.has(cid)) this.lines.set(cid, []);
    const lines = this.lines.get(cid);
    lines.push({ who, text });
    if (lines.length > MAX_LINES) lines.splice(0, lines.length - MAX_LINES);
    this.shownConv = cid;
  }

  render() {
    const acting = this.session.role === 'player' || this.session.role === 'admin';
    $('avatar-box').hidden = !acting || !this.session.player;
    const me = this.me;
    this.map.mine = me ? me.id : null;
    $('avatar-join').hidden = !!me;
    $('avatar-here').hidden = !me;
    if (!me) return;
    $('avatar-who').textContent = `You are ${me.name}, ${money(me.cash)}: ${me.label}`;
    this.renderHere(me);
    this.renderChat(me);
  }

  renderHere(me) {
    const b = me.state === 'moving' ? null : this.buildingAtEntrance(me.x, me.y);
    const key = b ? `${b.id}|${me.using}` : '';
    if (key === this.hereKey) return;
    this.hereKey = key;
    const list = $('avatar-equipment');
    if (!b) {
      list.replaceChildren(el('li', { class: 'hint' }, 'Walk to a building to use its equipment.'));
      return;
    }
    const rows = [];
    for (const q of b.equipment || []) {
      const ops = q.functions?.length ? q.functions.map((f) => [f.name, f.cost, f.earn]) : q.operations.map((o) => [o, q.price, q.income]);
      rows.push(el('li', {}, el('strong', {}, q.label || q.name), ' ',
        ...ops.map(([op, cost, earn]) => el('button', {
          type: 'button', class: 'use', dataset: { equipment: q.id, operation: op },
          onclick: () => this.use(q.id, op),
        }, `${op}${cost ? ` (−${money(cost)})` : ''}${earn ? ` (+${money(earn)})` : ''}`))));
    }
    list.replaceChildren(el('li', { class: 'hint' }, `At ${b.name}:`), ...rows);
  }

  buildingAtEntrance(x, y) {
    for (const b of this.store.buildings.values()) if (b.entrance && b.entrance.x === x && b.entrance.y === y) return b;
    return null;
  }

  renderChat(me) {
    const cid = me.conversation || this.shownConv;
    const box = $('avatar-chat');
    const lines = (cid && this.lines.get(cid)) || [];
    $('avatar-chat-h').textContent = me.conversation
      ? `Talking (${cid})` : cid ? 'The conversation ended' : 'No conversation';
    box.dataset.conversation = cid || '';
    box.dataset.open = me.conversation ? 'true' : 'false';
    box.replaceChildren(...lines.map((l) => el('li', { class: l.who === me.id ? 'mine' : '' },
      el('strong', {}, l.who === me.id ? 'You' : this.store.nameOf(l.who)), `: ${l.text}`)));
  }
}
