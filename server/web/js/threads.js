// Conversations as threads in the activity feed: the chat lines of one conversation (the tick
// push's events name it in `conversation_id`) gather under one feed entry, newest line last,
// instead of one entry per line. Self-contained: the store calls `threadLine` for each chat
// event and renders an entry's `lines` (if any) as a nested list.

const MAX_THREADS = 50;  // conversations remembered for threading (older ones start anew)

/** Put chat event `ev` of tick `tick` into its conversation's feed entry; true if it did (the
 *  caller then logs nothing else for it). `store.feed` entries are {tick, text, lines?}. */
export function threadLine(store, tick, ev) {
  if (ev.kind !== 'chat' || !ev.conversation_id) return false;
  store.threads ??= new Map();
  let entry = store.threads.get(ev.conversation_id);
  const line = `${store.nameOf(ev.agent_id)}: “${ev.text}”`;
  if (!entry || !store.feed.includes(entry)) {
    const who = [ev.agent_id, ev.other_id].filter(Boolean).map((id) => store.nameOf(id));
    entry = { tick, text: `Conversation: ${who.join(' and ')}`, lines: [] };
    store.threads.set(ev.conversation_id, entry);
    if (store.threads.size > MAX_THREADS) store.threads.delete(store.threads.keys().next().value);
    store.feed.push(entry);
  } else {
    entry.tick = tick;  // the thread moves up as it goes on
    store.feed.splice(store.feed.indexOf(entry), 1);
    store.feed.push(entry);
  }
  entry.lines.push(line);
  return true;
}
