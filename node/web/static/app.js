// The shell of the UI: signing in with the token from the address, the
// navigation, the router (the part of the address after #) and the
// connection banner. Screens live in their own modules.
import { html, render, useState, useEffect } from './lib.js';
import { startSession, AuthError, get } from './api.js';
import { Stream } from './stream.js';
import { useStore, setState, getState, refreshAll, refreshGroups, refreshContacts, refreshWallet, noteLast, later } from './store.js';
import { ChatList, NewGroup } from './chats.js';
import { Conversation } from './conversation.js';
import { GroupDetails } from './groups.js';
import { People } from './contacts.js';
import { Wallet } from './wallet.js';
import { Moments } from './moments.js';
import { Profile } from './profile.js';
import { NodeInfo } from './nodeinfo.js';
import { GroupLists } from './lists.js';
import { Schedule } from './schedule.js';
import { Diary } from './diary.js';
import { money } from './util.js';

function parseRoute(hash) {
  const p = (hash || '').replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  switch (p[0]) {
    case 'chat': return { tab: 'chats', kind: p[1] === 'd' ? 'd' : 'g', id: p[2] || '' };
    case 'chats': return { tab: 'chats', sub: p[1] || '' };
    case 'group': return { tab: 'chats', group: p[1] || '' };
    case 'lists': return { tab: 'chats', lists: p[1] || '' };
    case 'schedule': return { tab: 'schedule' };
    case 'diary': return { tab: 'schedule', diary: true };
    case 'people': return { tab: 'people' };
    case 'moments': return { tab: 'moments' };
    case 'profile': return { tab: 'moments', profile: 'me' };
    case 'person': return { tab: 'moments', profile: p[1] || 'me' };
    case 'wallet': return { tab: 'wallet' };
    case 'node': return { tab: 'node' };
    default: return { tab: 'chats' };
  }
}

function useRoute() {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const f = () => setHash(location.hash);
    addEventListener('hashchange', f);
    return () => removeEventListener('hashchange', f);
  }, []);
  return parseRoute(hash);
}

const TABS = [
  ['chats', '#/chats', 'Chats'],
  ['moments', '#/moments', 'Moments'],
  ['people', '#/people', 'People'],
  ['schedule', '#/schedule', 'Schedule'],
  ['wallet', '#/wallet', 'Wallet'],
  ['node', '#/node', 'This computer', 'Computer'],
];

function App({ stream }) {
  const st = useStore();
  const route = useRoute();
  const unread = st.groups.reduce((a, g) => a + g.unread, 0) + st.contacts.reduce((a, c) => a + (c.state === 'accepted' ? c.unread : 0), 0);
  const requests = st.contacts.filter((c) => c.state === 'pending').length;

  // Move focus to the new screen's heading, so that keyboard and screen
  // reader users know the page changed; but not out of a field someone
  // is already typing in (on a slow computer this runs a moment after the
  // screen appears, and the rest of what they typed would be lost).
  useEffect(() => {
    const a = document.activeElement;
    if (a && a.matches('input, textarea, select, [contenteditable]')) return;
    const h = document.querySelector('main h1');
    if (h) { h.setAttribute('tabindex', '-1'); h.focus({ preventScroll: true }); }
  }, [route.tab, route.id, route.group, route.sub, route.profile, route.lists, route.diary]);

  if (st.stream === 'signed-out') return html`<${SignedOut} />`;

  let screen;
  const inChat = route.tab === 'chats' && (route.id || route.group || route.sub || route.lists);
  if (route.tab === 'chats') {
    let right;
    if (route.id) right = html`<${Conversation} key=${route.kind + route.id} kind=${route.kind} id=${route.id} stream=${stream} />`;
    else if (route.group) right = html`<${GroupDetails} id=${route.group} />`;
    else if (route.lists) right = html`<${GroupLists} key=${route.lists} id=${route.lists} stream=${stream} />`;
    else if (route.sub === 'new') right = html`<${NewGroup} />`;
    else right = html`<div class="placeholder"><p>Choose a chat on the left, or start a new group.</p></div>`;
    screen = html`<div class=${'split' + (inChat ? ' has-detail' : '')}>
      <${ChatList} current=${route.id ? route.kind + ':' + route.id : route.group || route.lists ? 'g:' + (route.group || route.lists) : ''} />
      <div class="detail">${right}</div>
    </div>`;
  } else if (route.tab === 'people') screen = html`<${People} stream=${stream} />`;
  else if (route.tab === 'moments') {
    screen = route.profile
      ? html`<${Profile} key=${route.profile} person=${route.profile === 'me' ? '' : route.profile} stream=${stream} />`
      : html`<${Moments} stream=${stream} />`;
  } else if (route.tab === 'wallet') screen = html`<${Wallet} stream=${stream} />`;
  else if (route.diary) screen = html`<${Diary} />`;
  else if (route.tab === 'schedule') screen = html`<${Schedule} stream=${stream} />`;
  else screen = html`<${NodeInfo} stream=${stream} />`;

  return html`<div class=${'shell' + (inChat ? ' in-chat' : '')}>
    <a class="skip" href="#main">Skip to content</a>
    <nav class="tabs" aria-label="Main">
      <span class="brand" aria-hidden="true">Banyan</span>
      ${TABS.map(([tab, href, label, short]) => html`<a key=${tab} href=${href} class=${'tab' + (route.tab === tab ? ' current' : '')} aria-current=${route.tab === tab ? 'page' : undefined}>
        <span class=${'icon icon-' + tab} aria-hidden="true"></span>
        <span class="tab-label">${short ? html`<span class="long">${label}</span><span class="short">${short}</span>` : label}</span>
        ${tab === 'chats' && unread > 0 && html`<span class="badge" aria-label=${unread + ' unread'}>${unread}</span>`}
        ${tab === 'people' && requests > 0 && html`<span class="badge" aria-label=${requests + ' waiting'}>${requests}</span>`}
        ${tab === 'wallet' && st.wallet && html`<span class="tab-extra">${money(st.wallet.balance)}</span>`}
      </a>`)}
    </nav>
    <main id="main">
      ${st.stream === 'reconnecting' && html`<p class="banner" role="status" id="reconnecting">Reconnecting to your Banyan node…</p>`}
      ${st.reminder && route.tab !== 'schedule' && html`<p class="banner" role="status" id="reminder">Starting soon: ${st.reminder.title} (${st.reminder.group_name}). <a href="#/schedule">See your schedule</a></p>`}
      ${st.me?.catching_up > 0 && html`<p class="banner" role="status" id="catching-up">Restored from a backup: you can read, but you cannot send, pay or post until a neighbour's Banyan brings back what you wrote before.</p>`}
      ${st.me?.clock?.warning && html`<p class="banner error" role="alert" id="clock-warning">${st.me.clock.warning}</p>`}
      ${st.me?.storage?.damage && html`<p class="banner error" role="alert" id="store-damage">${st.me.storage.damage}</p>`}
      ${st.me?.storage?.writes_refused && html`<p class="banner error" role="alert" id="disk-full">${st.me.storage.writes_refused}</p>`}
      ${screen}
    </main>
  </div>`;
}

function SignedOut() {
  return html`<main class="signed-out" id="signed-out">
    <h1>Open Banyan from its link</h1>
    <p>This browser is not signed in to your Banyan node, or the node was reset.</p>
    <p>Open the link that Banyan printed when it started (it begins with <code>http://127.0.0.1</code>), or type this in a terminal:</p>
    <pre><code>banyan open</code></pre>
  </main>`;
}

function Failed({ message }) {
  return html`<main class="signed-out"><h1>Banyan is not answering</h1><p>${message}</p>
    <p>Start it again (<code>banyan run</code>), then reload this page.</p></main>`;
}

async function boot() {
  const root = document.getElementById('app');
  // Preact adds to what is in the root; the "Opening Banyan…" note goes.
  const show = (vnode) => { root.replaceChildren(); render(vnode, root); };
  try {
    await startSession();
  } catch (e) {
    // A stale link: fall through; the check below shows how to get in.
  }
  let node;
  try {
    node = await get('/v1/node');
  } catch (e) {
    if (e instanceof AuthError) { show(html`<${SignedOut} />`); return; }
    show(html`<${Failed} message=${e.message} />`);
    return;
  }
  if (!location.hash || location.hash === '#') history.replaceState(null, '', '#/chats');
  const stream = new Stream();
  stream.onState((s) => setState({ stream: s }));
  const groupsLater = later(refreshGroups), contactsLater = later(refreshContacts), walletLater = later(refreshWallet);
  stream.on((ev) => {
    if (ev.type === 'resumed') { refreshAll().catch(() => {}); return; }
    if (ev.message) { noteLast('g:' + ev.message.group_id, ev.message); groupsLater(); }
    if (ev.dm) { noteLast('d:' + ev.dm.peer_id, ev.dm); contactsLater(); }
    if (ev.contact) contactsLater();
    if (ev.wallet) walletLater();
    if (ev.reminder) setState({ reminder: ev.reminder });
  });
  await refreshAll();
  show(html`<${App} stream=${stream} />`);
  stream.start(node.event_seq);
  // Peers come and go without events: refresh the lists now and then.
  // So do the node's warnings (its clock, a full disk, catching up after
  // a restore).
  setInterval(() => {
    if (!document.hidden && getState().stream === 'live') {
      refreshGroups().catch(() => {}); refreshContacts().catch(() => {});
      get('/v1/node').then((me) => setState({ me })).catch(() => {});
    }
  }, 15000);
}

boot();
