// The admin's runs (docs/runs.md): every run with its lineage (parent @ fork tick), the open one
// marked, and per run Open, Replay, Archive/Unarchive and Delete; a form forks a run into a new
// name, as it is now or at one of its kept checkpoints, and may open the new run at once. It lives
// in the Play card as the "Runs" box, shown to the admin. Opening a run makes the server send a
// `reset` push, on which the page reloads the town (main.js) and this list refreshes; a fork, an
// archive or a deletion (from this page or any other client) sends a `runs` push, on which an
// open box refreshes its list.
// `window.__runs` is a read-only view of it for tests.

import { el, fillSelect } from './dom.js';
import { explain } from './forms.js';

/** How a run came to be: "base run" or "from main @ 30" (its parent and fork tick). */
export function lineage(r) {
  return r.parent ? `from ${r.parent} @ ${r.fork_tick}` : 'base run';
}

export class RunsPanel {
  /**
   * @param {{conn, store, session, box: HTMLDetailsElement, replay: {show(run)}}} deps
   */
  constructor({ conn, store, session, box, replay }) {
    this.conn = conn;
    this.session = session;
    this.box = box;
    this.replay = replay;
    this.runs = [];
    this.open = null;
    this.loads = 0;   // completed list loads, for tests
    this.build();
    box.addEventListener('toggle', () => { if (box.open) this.refresh(); });
    conn.on('push:reset', (d) => {
      if (d.run) this.open = d.run;  // the run now open, also when another admin opened it
      if (!box.hidden && box.open) this.refresh();
    });
    conn.on('push:runs', () => { if (!box.hidden && box.open) this.refresh(); });  // forked, archived, deleted
    // the open run's tick moves with the town: say so without rebuilding the selects
    store.subscribe((what) => { if (what === 'tick' || what === 'town') this.liveTick(store.tick); });
    const view = this;
    Object.defineProperty(window, '__runs', {
      value: Object.freeze({
        get shown() { return !box.hidden && box.open; },
        get loads() { return view.loads; },
        get open() { return view.open; },
        runs() { return view.runs.map((r) => ({ ...r, checkpoints: [...r.checkpoints] })); },
      }),
    });
  }

  build() {
    this.list = el('ul', { id: 'runs-list', class: 'runs-list', 'aria-label': 'Runs' });
    this.source = el('select', { id: 'fork-source', name: 'source', onchange: () => { this.sourcePicked = true; this.fillTicks(); } });
    this.at = el('select', { id: 'fork-tick', name: 'tick' });
    this.name = el('input', { id: 'fork-name', name: 'name', maxlength: 32, required: true, autocomplete: 'off', placeholder: 'e.g. trial-2' });
    this.openIt = el('input', { id: 'fork-open', name: 'open', type: 'checkbox' });
    this.error = el('div', { id: 'fork-error', class: 'error', role: 'alert' });
    this.ok = el('div', { id: 'fork-ok', class: 'ok', role: 'status' });
    this.listError = el('div', { id: 'runs-error', class: 'error', role: 'alert' });
    const field = (id, label, input) => el('div', { class: 'field' }, el('label', { for: id }, label), input);
    this.form = el('form', { id: 'fork-form', class: 'fork-form', onsubmit: (e) => { e.preventDefault(); this.fork(); } },
      el('h3', {}, 'Fork a run'),
      el('div', { class: 'grid2' }, field('fork-source', 'Run', this.source), field('fork-tick', 'From', this.at)),
      field('fork-name', 'New run name', this.name),
      el('label', { class: 'check' }, this.openIt, ' open it'),
      el('button', { type: 'submit' }, 'Fork'), this.error, this.ok);
    this.box.append(
      el('p', { class: 'hint' }, 'Each run is a town of its own with its history. Opening one shows and ticks it from then on; the run left stays as it was.'),
      this.list, this.listError,
      el('button', { id: 'runs-refresh', type: 'button', class: 'link', onclick: () => this.refresh() }, 'Refresh the list'),
      this.form,
    );
  }

  /** Show the box to the admin only (forms.js calls this when the session changes). */
  render() {
    const admin = this.session.role === 'admin';
    this.box.hidden = !admin;
    if (admin && this.box.open) this.refresh();
  }

  async refresh() {
    this.listError.textContent = '';
    try {
      const res = await this.conn.request('list_runs', { archived: true });
      this.runs = res.runs;
      this.open = res.open;
      this.loads += 1;
    } catch (err) {
      this.listError.textContent = explain(err);
    }
    this.renderList();
    this.fillSources();
  }

  renderList() {
    this.list.replaceChildren(...this.runs.map((r) => {
      const msg = el('div', { class: 'error', role: 'alert' });
      const act = (label, title, fn, disabled = false) => el('button', { type: 'button', title, disabled, dataset: { act: label.toLowerCase() },
        onclick: () => this.act(msg, fn) }, label);
      return el('li', { dataset: { name: r.name }, class: [r.open ? 'open' : '', r.archived ? 'archived' : ''].join(' ').trim() },
        el('div', { class: 'run-head' },
          el('strong', { class: 'run-name' }, r.name),
          r.open ? el('span', { class: 'badge run-open' }, 'open') : null,
          r.archived ? el('span', { class: 'badge run-archived' }, 'archived') : null),
        el('div', { class: 'meta' }, el('span', { class: 'run-lineage' }, lineage(r)), ' · ',
          el('span', { class: 'run-tick' }, `tick ${r.tick}`), ` · ${r.agents} agents`,
          r.checkpoints.length ? ` · checkpoints ${r.checkpoints.join(', ')}` : ''),
        el('div', { class: 'row run-actions' },
          act('Open', 'Show and tick this run from now on', () => this.conn.request('open_run', { name: r.name }), r.open || r.archived),
          el('button', { type: 'button', title: 'Replay this run', dataset: { act: 'replay' }, onclick: () => this.replay.show(r.name) }, 'Replay'),
          r.archived
            ? act('Unarchive', 'List this run again and allow opening it', () => this.conn.request('archive_run', { name: r.name, archived: false }))
            : act('Archive', 'Keep this run but hide it and refuse to open it', () => this.conn.request('archive_run', { name: r.name }), r.open),
          act('Delete', 'Drop this run and its checkpoints for good', () => this.remove(r.name), r.open || r.name === 'main')),
        msg);
    }));
  }

  /** Run a row's action; a refusal is shown under the row, success refreshes the list. */
  async act(msg, fn) {
    msg.textContent = '';
    try {
      const done = await fn();
      if (done === false) return;
      await this.refresh();
    } catch (err) {
      msg.textContent = explain(err);
    }
  }

  async remove(name) {
    if (!window.confirm(`Delete run ${name} and its checkpoints for good? This cannot be undone.`)) return false;
    return this.conn.request('delete_run', { name, confirm: true });
  }

  fillSources() {
    fillSelect(this.source, this.runs.map((r) => ({ value: r.name, label: r.open ? `${r.name} (open)` : r.name })));
    // the open run, until the admin picks another (and while that one still exists)
    if (!this.sourcePicked || !this.runs.some((r) => r.name === this.source.value)) {
      this.source.value = this.open || '';
      this.sourcePicked = false;
    }
    this.fillTicks();
  }

  /** "now (tick N)" and the source run's kept checkpoints, newest first. */
  fillTicks() {
    const r = this.runs.find((x) => x.name === this.source.value);
    if (!r) { fillSelect(this.at, []); return; }
    fillSelect(this.at, [{ value: '', label: `now (tick ${r.tick})` },
      ...[...r.checkpoints].reverse().map((t) => ({ value: String(t), label: `checkpoint at tick ${t}` }))]);
  }

  liveTick(tick) {
    const r = this.runs.find((x) => x.name === this.open);
    if (!r || r.tick === tick) return;
    r.tick = tick;
    const span = this.list.querySelector(`li[data-name="${CSS.escape(r.name)}"] .run-tick`);
    if (span) span.textContent = `tick ${tick}`;
    if (this.source.value === r.name && this.at.options[0]) this.at.options[0].textContent = `now (tick ${tick})`;
  }

  async fork() {
    this.error.textContent = '';
    this.ok.textContent = '';
    this.name.removeAttribute('aria-invalid');
    const data = { name: this.name.value.trim(), source: this.source.value || null, open: this.openIt.checked };
    if (this.at.value) data.tick = Number(this.at.value);
    const btn = this.form.querySelector('button[type=submit]');
    btn.disabled = true;
    try {
      const r = (await this.conn.request('fork_run', data)).run;
      this.ok.textContent = `Forked ${r.parent} at tick ${r.fork_tick} into ${r.name}` + (r.open ? '; it is open now.' : '.');
      this.name.value = '';
      await this.refresh();
    } catch (err) {
      this.error.textContent = explain(err);
      if (['conflict', 'invalid_request'].includes(err?.code)) this.name.setAttribute('aria-invalid', 'true');
    } finally {
      btn.disabled = false;
    }
  }
}
