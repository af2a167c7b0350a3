// Where a building fits, while one is being placed: asks the server (`find_site`) for every
// top-left tile at which the template can go up, keeps the answer fresh as the town changes,
// and highlights those tiles on the map. Kept apart from the map renderer: the map calls
// `draw(g, map)` each frame in tile coordinates, after the buildings; this module notices
// from `map.placing` when placing starts and ends.

const FILL = 'rgba(40,190,90,0.38)';
const EDGE = 'rgba(20,110,50,0.8)';

export class SiteHighlight {
  /**
   * @param {{request(command: string, data?: object): Promise<any>}} conn
   * @param {import('./store.js').TownStore} store
   * @param {HTMLElement | null} note  where to say how many places fit
   */
  constructor(conn, store, note = null) {
    this.conn = conn;
    this.note = note;
    this.template = null;  // the template name being placed, or null
    this.sites = [];       // [{x, y}] top-left tiles where it fits
    this.keys = new Set(); // "x,y" of the same
    this.loaded = false;   // the answer for the current template and town has arrived
    this.asked = 0;        // request counter: only the latest answer is kept
    this.frames = 0;       // frames drawn with the highlight (for tests)
    store.subscribe((what) => {
      if (this.template && ['town', 'buildings', 'tick', 'agents'].includes(what)) this.refresh();
    });
  }

  has(x, y) {
    return this.keys.has(`${x},${y}`);
  }

  /** Ask again where the current template fits (buildings went up, agents moved). */
  async refresh() {
    const name = this.template;
    const asked = ++this.asked;
    let sites = [];
    try {
      sites = (await this.conn.request('find_site', { template: name, limit: 100000 })).sites;
    } catch {
      sites = [];  // offline or refused: show nothing rather than stale places
    }
    if (asked !== this.asked || name !== this.template) return;
    this.sites = sites;
    this.keys = new Set(sites.map((s) => `${s.x},${s.y}`));
    this.loaded = true;
    if (this.note) {
      this.note.textContent = sites.length
        ? ` ${sites.length} places fit (green).`
        : ' It fits nowhere right now.';
    }
  }

  follow(placing) {
    const name = placing ? placing.name : null;
    if (name === this.template) return;
    this.template = name;
    this.sites = [];
    this.keys = new Set();
    this.loaded = false;
    if (this.note) this.note.textContent = '';
    if (name) this.refresh();
    else this.asked++;  // drop an answer still on its way
  }

  /** Called by the map each frame, in tile coordinates (one unit = one tile). */
  draw(g, map) {
    this.follow(map.placing);
    if (!this.template || !this.sites.length) return;
    g.fillStyle = FILL;
    g.strokeStyle = EDGE;
    g.lineWidth = 0.06;
    for (const s of this.sites) {
      g.fillRect(s.x + 0.15, s.y + 0.15, 0.7, 0.7);
      g.strokeRect(s.x + 0.15, s.y + 0.15, 0.7, 0.7);
    }
    this.frames++;
  }
}
