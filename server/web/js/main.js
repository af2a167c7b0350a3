// The page's entry point: builds the store, the connection, the map, the agent list, the panel,
// the sheet (phones) and the forms, and runs the connection's life cycle: on every (re)connect
// it fetches `info`, logs in again with the credentials the person gave, subscribes to pushes
// (tick deltas in their compact form) and re-fetches the whole town. While the connection is
// down a banner says so and counts down to the next attempt.

import { Connection } from './net.js';
import { TownStore } from './store.js';
import { MapView } from './map.js';
import { Panel } from './panel.js';
import { AgentList } from './agentlist.js';
import { Picker } from './picker.js';
import { Sheet } from './sheet.js';
import { CompactDecoder } from './push.js';
import { Forms } from './forms.js';
import { SiteHighlight } from './sites.js';
import { Play } from './play.js';
import { $ } from './dom.js';
import { ReplayView } from './replay.js';
import { RunsPanel } from './runs.js';
import { Interview } from './interview.js';

const store = new TownStore();
const conn = new Connection();
const decoder = new CompactDecoder();
const session = { role: 'viewer', player: null, creds: null, info: null };
let syncs = 0;          // completed (re)synchronisations with the server, for tests and status
let everConnected = false;

const map = new MapView($('map'), store, {
  onSelectAgent: (id) => selectAgent(id),
  onSelectBuilding: (id) => selectBuilding(id),
  onPlace: async (x, y) => {
    await forms.place(x, y);
    if (sheet.phone) sheet.show('play');  // the outcome is said in the Play card
  },
  onCancelPlace: () => forms.stopPlacing(),
  onPickCluster: (ids, at) => picker.show(ids, at),
  onFollow: (id) => panel.setFollowing(id),
  onWalk: (x, y) => play.walkTo(x, y),
});
const sheet = new Sheet({ onResize: (px) => { map.insetBottom = px; } });
map.cover = sheet.phone;  // a phone's first view fills the screen with the town
const list = new AgentList(store, { onSelect: (id) => selectAgent(id) });
const picker = new Picker(store, { onSelect: (id) => selectAgent(id) });
const panel = new Panel(store, conn, { onSelect: (id) => selectAgent(id), onFollow: (id) => map.follow(id) });
const sites = new SiteHighlight(conn, store, $('place-sites'));  // where a building fits, while placing
map.layers.push(sites);
const forms = new Forms({ store, conn, map, panel, session });
const replay = new ReplayView(conn, store, $('replay-root'), $('btn-replay'));  // its own view: docs/runs.md
const runs = new RunsPanel({ conn, store, session, box: $('runs-box'), replay });  // the admin's runs
const play = new Play({ store, conn, map, session, selectedAgent: () => map.selected });
const interview = new Interview({ store, conn, session, box: $('inspector') });  // asks; stores nothing
forms.onSession = () => { play.render(); runs.render(); interview.render(); };

// On a phone the sheet folds while a building is being placed, so the map can be seen.
$('build-form').addEventListener('submit', () => { if (sheet.phone) sheet.setState('peek'); });

function selectAgent(id) {
  map.selected = id;
  list.select(id);
  forms.onSelectAgent(id);
  interview.show(id);
  panel.showAgent(id);
  inspectorTab();
  if (sheet.phone) {
    sheet.show('inspector');
    map.reveal(id);  // above the sheet
  }
}

function selectBuilding(id) {
  map.selected = null;
  list.select(null);
  $('chat-form').hidden = true;
  interview.show(null);
  panel.showBuilding(id);
  inspectorTab();
  if (sheet.phone) sheet.show('inspector');
}

/** The sheet's Inspector tab shows once there is something to inspect. */
function inspectorTab() {
  document.querySelector('#sheet-tabs [data-tab="inspector"]').hidden = !panel.selected;
}
inspectorTab();

// ----- pushes -----

conn.on('push:tick', (d) => { store.applyTick(d); play.onTick(d); });
conn.on('push:tick_compact', (d) => { const t = decoder.decode(d); store.applyTick(t); play.onTick(t); });
conn.on('push:line', (d) => play.onLine(d));
conn.on('push:agent_added', (d) => { if (!store.agents.has(d.agent.id)) store.addAgent(d.agent); });
conn.on('push:agent_removed', (d) => store.removeAgent(d.agent_id));
conn.on('push:reset', () => { if (conn.connected) sync(); });
conn.on('push:building_added', (d) => { if (!store.buildings.has(d.building.id)) store.addBuilding(d.building); });
conn.on('push:chat', (d) => store.playerChat(d));
conn.on('push:paused', (d) => store.setPaused(d.paused));

// ----- connection life cycle -----

conn.on('open', () => sync());
conn.on('close', () => showOffline());

/** Everything the page needs after a (re)connect, in an order that loses no push. */
async function sync() {
  setStatus('syncing', 'loading the town…');
  try {
    session.info = await conn.request('info');
    if (session.creds) {
      try {
        await forms.login(session.creds);
      } catch (err) {
        // The token may have changed with the restart: fall back to watching, and say so.
        session.creds = null;
        session.role = 'viewer';
        session.player = null;
        forms.renderSession();
        $('login-error').textContent = `Logged out after reconnecting: ${err.message}`;
      }
    } else {
      session.role = session.info.role;
      forms.renderSession();
    }
    // Subscribe first: pushes that arrive before the town are overwritten by it, none are missed.
    const sub = await conn.request('subscribe', { on: true, compact: true });
    decoder.reset(sub.strings);
    const town = await conn.request('get_town');
    store.load(town);
    store.setPaused(session.info.paused);
    forms.refreshChoices();
    if (panel.selected?.kind === 'agent') panel.loadAgent();
    syncs += 1;
    setStatus('online', 'connected');
    showOnline();
    everConnected = true;
  } catch (err) {
    // The socket dropped mid-sync: the next "open" syncs again.
    if (err.code !== 'disconnected') console.warn('sync failed:', err.message);
  }
}

function setStatus(state, text) {
  const s = $('status');
  s.dataset.state = state;
  $('status-text').textContent = text;
}

let countdown = null;

function showOffline() {
  const banner = $('banner');
  banner.hidden = false;
  banner.className = 'banner offline';
  const render = () => {
    const secs = Math.max(0, Math.ceil((conn.retryAt - Date.now()) / 1000));
    const lead = everConnected ? 'Lost the connection to the server.' : 'Cannot reach the server.';
    banner.replaceChildren(
      document.createTextNode(`${lead} Reconnecting ${secs ? `in ${secs} s` : 'now'}… (attempt ${conn.attempt})`),
      retryButton(),
    );
    setStatus('offline', 'offline');
  };
  render();
  clearInterval(countdown);
  countdown = setInterval(render, 1000);
}

function retryButton() {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = 'Retry now';
  b.addEventListener('click', () => conn.connect());
  return b;
}

function showOnline() {
  clearInterval(countdown);
  countdown = null;
  const banner = $('banner');
  if (banner.hidden) return;
  banner.className = 'banner online';
  banner.textContent = 'Reconnected: the town is up to date.';
  setTimeout(() => { if (conn.connected) banner.hidden = true; }, 2500);
}

// ----- zoom buttons -----

$('zoom-in').addEventListener('click', () => map.zoomAt(1.25));
$('zoom-out').addEventListener('click', () => map.zoomAt(0.8));
$('zoom-fit').addEventListener('click', () => { map.unfollow(); map.fit(); });

// ----- a read-only view for tests and the curious (window.__town) -----

Object.defineProperty(window, '__town', {
  value: Object.freeze({
    get connected() { return conn.connected; },
    get syncs() { return syncs; },
    get loaded() { return store.loaded; },
    get tick() { return store.tick; },
    get clock() { return store.clock; },
    get paused() { return store.paused; },
    get role() { return session.role; },
    get player() { return session.player; },
    get frames() { return map.frames; },
    get followed() { return map.followed; },
    get avatar() { const a = play.me; return a ? { id: a.id, x: a.x, y: a.y, state: a.state, cash: a.cash, conversation: a.conversation || null } : null; },
    get sheet() { return sheet.phone ? { tab: sheet.tab, state: sheet.state } : null; },
    get picking() { return picker.open; },
    get selected() { return panel.selected ? { ...panel.selected } : null; },
    get placing() { return map.placing ? map.placing.name : null; },
    get preview() { return map.preview ? { ...map.preview } : null; },
    get sites() { return { template: sites.template, loaded: sites.loaded, count: sites.sites.length, frames: sites.frames, list: sites.sites.map((s) => [s.x, s.y]) }; },
    get camera() { return { scale: map.scale, ox: map.ox, oy: map.oy, width: map.cssW, height: map.cssH, dpr: map.dpr }; },
    agents() {
      const now = performance.now();
      return [...store.agents.values()].map((a) => {
        const p = store.drawPos(a, now);
        return { id: a.id, name: a.name, x: a.x, y: a.y, drawX: p.x, drawY: p.y, state: a.state, label: a.label, cash: a.cash, owner: a.owner };
      });
    },
    buildings() {
      return [...store.buildings.values()].map((b) => ({ id: b.id, name: b.name, template: b.template, x: b.x, y: b.y, w: b.w, h: b.h }));
    },
    bubbles() {
      return [...store.liveBubbles().entries()].map(([id, b]) => ({ agent_id: id, text: b.text }));
    },
    tileToClient(x, y) { return map.tileToClient(x, y); },
    labels() { return map.labelRects(); },
  }),
});

/** The rectangles (CSS px in the canvas) of the labels drawn in the last frame. */
Object.defineProperty(window, '__labels', { value: () => map.labelRects() });

setStatus('connecting', 'connecting…');
conn.connect();
