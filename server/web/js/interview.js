// Interview the inspected agent (docs/runs.md, "Interview"): the admin, or the player who created
// the agent, asks it a question; it answers in character from its memory and the server stores
// nothing (no memory, chat, event or llm_calls row, no push). The answer shows under the form
// with the model calls and tokens it took; it never joins the chat log and makes no bubble.
// The form lives in the inspector, under the chat box. `window.__interview` is a read-only view
// of it for tests.

import { el } from './dom.js';
import { explain } from './forms.js';

/** A player name as the server compares it: NFKC, case-folded, whitespace collapsed. */
function nameKey(name) {
  return name.normalize('NFKC').toLowerCase().replace(/\s+/g, ' ').trim();
}

/** The server's rule (`Session.may_act_as`): the admin interviews any agent, a player its own. */
export function mayInterview(session, agent) {
  if (session.role === 'admin') return true;
  return session.role === 'player' && !!agent?.owner && !!session.player
    && nameKey(agent.owner) === nameKey(session.player);
}

export class Interview {
  /**
   * @param {{store, conn, session, box: HTMLElement}} deps  box: where the form goes (the inspector)
   */
  constructor({ store, conn, session, box }) {
    this.store = store;
    this.conn = conn;
    this.session = session;
    this.agentId = null;
    this.asked = 0;   // answers shown, for tests
    this.build(box);
    store.subscribe((what) => { if (what === 'town' || what === 'agents') this.render(); });
    const view = this;
    Object.defineProperty(window, '__interview', {
      value: Object.freeze({
        get shown() { return !view.form.hidden; },
        get asked() { return view.asked; },
        get agent() { return view.agentId; },
      }),
    });
  }

  build(box) {
    this.name = el('span', { id: 'interview-name' });
    this.question = el('textarea', { id: 'interview-question', name: 'question', rows: 2, maxlength: 1000, autocomplete: 'off' });
    this.error = el('div', { id: 'interview-error', class: 'error', role: 'alert' });
    this.answer = el('div', { id: 'interview-answer', class: 'interview-answer', role: 'status' });
    this.button = el('button', { type: 'submit' }, 'Ask');
    this.form = el('form', { id: 'interview-form', class: 'interview-form', hidden: true, novalidate: true,
      onsubmit: (e) => { e.preventDefault(); this.ask(); } },
      el('h3', {}, 'Interview ', el('small', {}, '(stores nothing)')),
      el('p', { class: 'hint' }, 'The agent answers from its memory. Nothing is kept: not in its memories, not in its chats, not in the run.'),
      el('label', { for: 'interview-question' }, 'Question for ', this.name),
      this.question,
      el('div', { class: 'row' }, this.button),
      this.error, this.answer);
    box.append(this.form);
  }

  /** The inspector shows agent `id` (null: a building or nothing): a fresh form for it. */
  show(id) {
    if (id !== this.agentId) {
      this.agentId = id;
      this.question.value = '';
      this.error.textContent = '';
      this.answer.replaceChildren();
    }
    this.render();
  }

  /** Shown only to whom the server lets interview the inspected agent. */
  render() {
    const a = this.agentId ? this.store.agents.get(this.agentId) : null;
    this.form.hidden = !a || !mayInterview(this.session, a);
    if (a) this.name.textContent = a.name;
  }

  /** Ask the server; its refusals (not yours, no such agent, an empty question) show under the form. */
  async ask() {
    const id = this.agentId;
    const question = this.question.value.trim();
    this.error.textContent = '';
    this.button.disabled = true;
    this.answer.replaceChildren(el('p', { class: 'hint' }, `${this.store.nameOf(id)} is thinking…`));
    try {
      const r = await this.conn.request('interview', { agent_id: id, question });
      if (id !== this.agentId) return;  // another agent is inspected now
      const cost = r.cost_usd ? ` · $${r.cost_usd.toFixed(4)}` : '';
      this.answer.replaceChildren(
        el('p', { class: 'interview-q' }, el('strong', {}, 'Q: '), r.question),
        el('p', { class: 'interview-a', dataset: { failed: r.failed ? 'true' : 'false' } },
          el('strong', {}, `${this.store.nameOf(id)}: `), r.answer,
          r.failed ? el('em', {}, ' (the model failed; a fallback answer)') : null),
        el('p', { class: 'meta interview-cost' },
          `${r.calls} model call${r.calls === 1 ? '' : 's'} · ${r.tokens} tokens${cost} · ${r.memories.length} ${r.memories.length === 1 ? 'memory' : 'memories'} drawn on · nothing stored`));
      this.asked += 1;
    } catch (err) {
      if (id !== this.agentId) return;
      this.answer.replaceChildren();
      this.error.textContent = explain(err);
    } finally {
      this.button.disabled = false;
    }
  }
}
