// The list of chats: groups and private conversations together, newest
// first, with unread counts and the last message; and starting or joining a
// group.
import { html, useState } from './lib.js';
import { post } from './api.js';
import { useStore, nameOf, contactName, refreshGroups } from './store.js';
import { formatTime, plural, parseEnvelope, money, initial } from './util.js';
import { Field, ErrorText, useAction } from './ui.js';

export function chatList(st) {
  const items = [];
  for (const g of st.groups) {
    items.push({ key: 'g:' + g.id, href: '#/chat/g/' + g.id, name: g.name, unread: g.unread, last: st.last['g:' + g.id], group: true });
  }
  for (const c of st.contacts) {
    if (c.state !== 'accepted') continue;
    items.push({ key: 'd:' + c.peer_id, href: '#/chat/d/' + c.peer_id, name: contactName(c), unread: c.unread, last: st.last['d:' + c.peer_id], online: c.online });
  }
  const t = (it) => (it.last ? Date.parse(it.last.time) : 0);
  items.sort((a, b) => t(b) - t(a) || a.name.localeCompare(b.name));
  return items;
}

function lastLine(it) {
  const m = it.last;
  if (!m) return 'No messages yet';
  const mine = it.group ? m.mine : m.out;
  const who = mine ? 'You' : it.group ? nameOf(m.author, m.by) : '';
  const env = it.group ? parseEnvelope(m.text) : null;
  const shown = env ? `Red envelope: ${money(env.total, env.unit)} in ${plural(env.shares, 'share')}` : m.text;
  const text = shown.length > 80 ? shown.slice(0, 80) + '…' : shown;
  return (who ? who + ': ' : '') + text;
}

export function ChatList({ current }) {
  const st = useStore();
  const items = chatList(st);
  return html`<nav class="chat-list" aria-label="Chats">
    <div class="list-head">
      <h1>Chats</h1>
      <a class="button" href="#/chats/new">New or join group</a>
    </div>
    ${items.length === 0 && html`<p class="empty">No chats yet. Start a group, join one with a code, or add people on the People page.</p>`}
    <ul class="chats">
      ${items.map((it) => html`<li key=${it.key}>
        <a href=${it.href} class=${'chat' + (current === it.key ? ' current' : '')} aria-current=${current === it.key ? 'page' : undefined}>
          <span class=${'avatar' + (it.group ? ' group' : '')} aria-hidden="true">${initial(it.name)}</span>
          <span class="chat-main">
            <span class="chat-top">
              <span class="chat-name">${it.name}${it.group ? '' : html`<span class="sr-only">, private</span>`}</span>
              ${it.last && html`<time class="chat-time" datetime=${it.last.time}>${formatTime(it.last.time)}</time>`}
            </span>
            <span class="chat-bottom">
              <span class="chat-last">${lastLine(it)}</span>
              ${it.unread > 0 && html`<span class="badge"><span aria-hidden="true">${it.unread}</span><span class="sr-only">${plural(it.unread, 'unread message')}</span></span>`}
            </span>
          </span>
        </a>
      </li>`)}
    </ul>
  </nav>`;
}

// NewGroup creates a group or joins one with an invite code or link.
export function NewGroup() {
  const [name, setName] = useState('');
  const [code, setCode] = useState('');
  const create = useAction();
  const join = useAction();
  const doCreate = (e) => {
    e.preventDefault();
    create.run(async () => {
      const g = await post('/v1/groups', { name: name.trim() });
      await refreshGroups();
      location.hash = '#/group/' + g.id;
    });
  };
  const doJoin = (e) => {
    e.preventDefault();
    join.run(async () => {
      const g = await post('/v1/groups/join', { invite: code.trim() });
      await refreshGroups();
      location.hash = '#/chat/g/' + g.id;
    });
  };
  return html`<div class="page">
    <header class="page-head"><a class="back" href="#/chats" aria-label="Back to chats">‹</a><h1>New or join group</h1></header>
    <form class="card" onSubmit=${doCreate} aria-labelledby="new-group">
      <h2 id="new-group">Start a new group</h2>
      <${Field} id="group-name" label="Group name" value=${name} onInput=${setName} required
        hint="For example: family, football team, village council." />
      <${ErrorText} error=${create.error} />
      <button type="submit" disabled=${create.busy || !name.trim()}>Start group</button>
    </form>
    <form class="card" onSubmit=${doJoin} aria-labelledby="join-group">
      <h2 id="join-group">Join a group</h2>
      <${Field} id="invite-code" label="Invite code or link" value=${code} onInput=${setCode} required multiline
        hint="Paste the code someone in the group gave you. It starts with g1. or banyan:g1." />
      <${ErrorText} error=${join.error} />
      <button type="submit" disabled=${join.busy || !code.trim()}>Join group</button>
    </form>
  </div>`;
}
