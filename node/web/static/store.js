// What several screens show at once: this node, its groups and contacts,
// the newest message of each chat and the wallet. Screens read it with
// useStore; the event stream and actions keep it fresh.
import { useState, useEffect } from './lib.js';
import { get, esc } from './api.js';
import { shortID } from './util.js';

const state = {
  me: null,          // GET /v1/node
  groups: [],        // GET /v1/groups
  contacts: [],      // GET /v1/contacts
  last: {},          // chat key ("g:ID" or "d:PEER") -> newest message
  wallet: null,      // GET /v1/wallet
  stream: 'connecting',
  error: null,       // the last failure to refresh, shown once
};
const subs = new Set();

export function getState() { return state; }

export function setState(patch) {
  Object.assign(state, patch);
  for (const f of subs) f();
}

// useStore re-renders the component whenever the shared state changes.
export function useStore() {
  const [, bump] = useState(0);
  useEffect(() => {
    const f = () => bump((n) => n + 1);
    subs.add(f);
    return () => subs.delete(f);
  }, []);
  return state;
}

// personName shows a person as the node shows every person (the API's
// person objects: a nickname, else "~name (…ID)" for a name they give
// themselves, else the short ID), with "You" for oneself.
export function personName(p) {
  return p.me ? 'You' : p.label;
}

// personWord is personName within a sentence.
export function personWord(p) {
  return p.me ? 'you' : p.label;
}

// nameOf says who a peer is: the person the API gave with it, else the
// contact's, else "Someone" and a short form of their ID.
export function nameOf(peerID, person) {
  if (person) return personName(person);
  if (state.me && peerID === state.me.peer_id) return 'You';
  const c = state.contacts.find((c) => c.peer_id === peerID);
  if (c) return contactName(c);
  return 'Someone ' + shortID(peerID);
}

// contactName is nameOf without the "You".
export function contactName(c) {
  return c.person ? c.person.label : c.nickname || c.name || shortID(c.peer_id);
}

export async function refreshGroups() {
  const groups = await get('/v1/groups');
  setState({ groups });
  await Promise.all(groups.filter((g) => !(('g:' + g.id) in state.last)).map((g) => refreshLast('g', g.id)));
  return groups;
}

export async function refreshContacts() {
  const contacts = await get('/v1/contacts');
  setState({ contacts });
  await Promise.all(contacts.filter((c) => c.state === 'accepted' && !(('d:' + c.peer_id) in state.last)).map((c) => refreshLast('d', c.peer_id)));
  return contacts;
}

export async function refreshWallet() {
  const wallet = await get('/v1/wallet');
  setState({ wallet });
  return wallet;
}

// refreshLast fetches the newest message of one chat.
export async function refreshLast(kind, id) {
  const path = kind === 'g' ? `/v1/groups/${esc(id)}/messages?limit=1` : `/v1/dm/${esc(id)}?limit=1`;
  try {
    const page = await get(path);
    const m = page.messages[page.messages.length - 1] || null;
    setState({ last: { ...state.last, [kind + ':' + id]: m } });
  } catch (e) {
    // A chat that vanished meanwhile (left, blocked) has no newest message.
  }
}

export function noteLast(key, m) {
  const old = state.last[key];
  if (!old || Date.parse(old.time) <= Date.parse(m.time) || old.id === m.id) {
    setState({ last: { ...state.last, [key]: m } });
  }
}

// refreshAll reloads everything shared, after start and after the stream
// was interrupted.
export async function refreshAll() {
  // A node just started may still be loading a long wallet history: the
  // chats do not wait for it.
  refreshWallet().catch(() => {});
  const [me] = await Promise.all([get('/v1/node'), refreshContacts(), refreshGroups()]);
  setState({ me });
}

// later runs f at most once per delay, for refreshes triggered by bursts of
// events.
export function later(f, delay = 400) {
  let t = null;
  return () => {
    if (t) return;
    t = setTimeout(() => { t = null; f().catch(() => {}); }, delay);
  };
}
