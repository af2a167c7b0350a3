// The side panel as a bottom sheet on a phone. Below PHONE_QUERY the map fills the screen and the
// panel's cards (agents, inspector, play, activity) sit in a sheet over it, one card at a time,
// chosen by a row of tabs. The sheet is "peek" (only the tabs show), "half" or "full"; a tab
// opens it, tapping the open tab again or the handle folds it. On wider screens every card shows
// in the side column and this does nothing.

import { $ } from './dom.js';

export const PHONE_QUERY = '(max-width: 760px)';

export class Sheet {
  /** @param {{onResize(coveredPx)}} handlers  told how much of the map the sheet covers */
  constructor(handlers) {
    this.handlers = handlers;
    this.side = $('side');
    this.media = window.matchMedia(PHONE_QUERY);
    this.tab = 'agents';
    this.state = 'peek';
    this.tabs = [...document.querySelectorAll('#sheet-tabs [data-tab]')];
    for (const t of this.tabs) t.addEventListener('click', () => this.toggle(t.dataset.tab));
    $('sheet-handle').addEventListener('click', () => this.setState(this.state === 'full' ? 'peek' : this.state === 'half' ? 'full' : 'half'));
    this.media.addEventListener('change', () => this.apply());
    new ResizeObserver(() => this.report()).observe(this.side);
    this.apply();
  }

  get phone() {
    return this.media.matches;
  }

  /** Open the sheet on card `tab` (at least half way), e.g. the inspector after a tap. */
  show(tab, state = this.state === 'full' ? 'full' : 'half') {
    this.tab = tab;
    this.state = state;
    this.apply();
  }

  toggle(tab) {
    if (this.tab === tab && this.state !== 'peek') this.setState('peek');
    else this.show(tab);
  }

  setState(state) {
    this.state = state;
    this.apply();
  }

  apply() {
    const phone = this.phone;
    document.body.classList.toggle('phone', phone);
    this.side.dataset.sheet = phone ? this.state : '';
    for (const card of this.side.querySelectorAll('.card[data-tab]')) {
      card.classList.toggle('off-tab', phone && card.dataset.tab !== this.tab);
    }
    for (const t of this.tabs) {
      const on = t.dataset.tab === this.tab && this.state !== 'peek';
      t.setAttribute('aria-selected', on ? 'true' : 'false');
    }
    $('sheet-handle').setAttribute('aria-expanded', phone && this.state !== 'peek' ? 'true' : 'false');
    if (phone) $('sheet-body').scrollTop = 0;
    this.report();
  }

  /** How many CSS px of the map the sheet hides (0 on a wide screen). */
  report() {
    const covered = this.phone ? Math.round(this.side.getBoundingClientRect().height) : 0;
    this.handlers.onResize?.(covered);
  }
}
