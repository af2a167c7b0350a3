// The compact tick push (`tick_compact`, asked for with `subscribe {compact: true}`): strings come
// once into a table, positions as a flat array. `decode` turns one back into the shape of a
// `tick` push ({tick, clock, agents: [{id, ...changed fields}], events, summary}) for the store.
// The format is described in docs/protocol.md, "Compact tick pushes".

export class CompactDecoder {
  constructor() {
    this.table = [];  // index -> string; filled by subscribe's answer and by every push
  }

  /** The string table so far, from `subscribe`'s answer (a fresh subscription starts over). */
  reset(strings) {
    this.table = (strings || []).slice();
  }

  /** A value of a `text` array: an index into the table, or a literal string, or null. */
  text(v) {
    return typeof v === 'number' ? this.table[v] : v;
  }

  decode(d) {
    const [base, ...fresh] = d.strings || [0];
    // Entries are numbered by the server; a push may come before subscribe's answer, so set by index.
    for (let k = 0; k < fresh.length; k++) this.table[base + k] = fresh[k];
    const byId = new Map();
    const agent = (i) => {
      const id = this.table[i];
      let a = byId.get(id);
      if (!a) {
        a = { id };
        byId.set(id, a);
      }
      return a;
    };
    const xy = d.xy || [];
    for (let j = 0; j < xy.length; j += 3) {
      const a = agent(xy[j]);
      if (xy[j + 1] !== null) a.x = xy[j + 1];
      if (xy[j + 2] !== null) a.y = xy[j + 2];
    }
    for (const [field, flat] of Object.entries(d.text || {})) {
      for (let j = 0; j < flat.length; j += 2) agent(flat[j])[field] = this.text(flat[j + 1]);
    }
    for (const [field, flat] of Object.entries(d.num || {})) {
      for (let j = 0; j < flat.length; j += 2) agent(flat[j])[field] = flat[j + 1];
    }
    for (const [i, fields] of d.other || []) Object.assign(agent(i), fields);
    byId.delete(undefined);  // an index this page never learnt (only before subscribe's answer)
    const events = (d.events || []).map(([kind, a, o, text, conversation]) => ({
      kind: this.text(kind),
      agent_id: a === null ? null : this.table[a],
      other_id: o === null ? null : this.table[o],
      text,
      conversation_id: conversation || null,  // a chat line's conversation (threads.js)
    }));
    return { tick: d.tick, clock: d.clock, agents: [...byId.values()], events, events_cut: d.events_cut || 0, summary: d.summary };
  }
}
