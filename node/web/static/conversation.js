// One conversation, a group or a private one: its history in a windowed
// list that loads older pages on the way up, live messages from the event
// stream, the delivery state of my messages, and the composer.
import { html, useState, useEffect, useRef } from './lib.js';
import { get, post, esc } from './api.js';
import { VList } from './vlist.js';
import { useStore, nameOf, contactName, noteLast, refreshGroups, refreshContacts, refreshWallet } from './store.js';
import { formatTime, formatDay, statusShort, statusLabel, plural, count, parseEnvelope, money, mergeMessages } from './util.js';
import { ErrorText, useAction } from './ui.js';

const FIRST_PAGE = 100;
const OLDER_PAGE = 200;

// normal gives group messages and private messages one shape.
function normal(kind, m) {
  if (kind === 'g') return m;
  return { id: m.id, time: m.time, text: m.text, mine: m.out, author: m.out ? null : m.peer_id, status: m.out ? m.status : '', held_by: m.held_by };
}

export function Conversation({ kind, id, stream }) {
  const st = useStore();
  const [msgs, setMsgs] = useState([]);
  const [next, setNext] = useState(null);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState(null);
  const [announce, setAnnounce] = useState('');
  const [follow, setFollow] = useState(0);
  const loadingOlder = useRef(false);
  const msgsRef = useRef(msgs);
  msgsRef.current = msgs;

  const base = kind === 'g' ? `/v1/groups/${esc(id)}/messages` : `/v1/dm/${esc(id)}`;
  const group = kind === 'g' ? st.groups.find((g) => g.id === id) : null;
  const contact = kind === 'd' ? st.contacts.find((c) => c.peer_id === id) : null;
  const title = group ? group.name : contact ? contactName(contact) : '';

  const merge = (incoming) => setMsgs((old) => mergeMessages(old, incoming.map((m) => normal(kind, m))));

  // The newest page: first load, after the stream resumed, and now and then
  // to update "held by N" (which changes without an event).
  const loadNewest = async (limit = FIRST_PAGE) => {
    const page = await get(`${base}?limit=${limit}`);
    merge(page.messages);
    return page;
  };

  useEffect(() => {
    let live = true;
    setMsgs([]); setNext(null); setLoaded(false); setError(null);
    loadNewest().then((page) => { if (live) { setNext(page.next || null); setLoaded(true); } }, (e) => live && setError(e));
    const off = stream.on((ev) => {
      if (ev.type === 'resumed') { loadNewest().catch(() => {}); return; }
      const m = kind === 'g' ? ev.message : ev.dm;
      if (!m || (kind === 'g' ? m.group_id !== id : m.peer_id !== id)) return;
      const fresh = !msgsRef.current.some((x) => x.id === m.id);
      merge([m]);
      const mine = kind === 'g' ? m.mine : m.out;
      if (fresh && !mine) setAnnounce(`New message from ${kind === 'g' ? nameOf(m.author, m.by) : title}: ${m.text}`);
    });
    const poll = setInterval(() => { if (!document.hidden) loadNewest(50).catch(() => {}); }, 10000);
    return () => { live = false; off(); clearInterval(poll); };
  }, [kind, id]);

  // Mark read what is shown, once the newest message is in view.
  const newest = msgs[msgs.length - 1];
  useEffect(() => {
    if (!newest || document.hidden) return;
    const t = setTimeout(() => {
      const done = kind === 'g' ? post(`/v1/groups/${esc(id)}/read`, { cursor: newest.cursor }) : post(`/v1/dm/${esc(id)}/read`);
      done.then(() => (kind === 'g' ? refreshGroups() : refreshContacts())).catch(() => {});
      noteLast(kind + ':' + id, newest);
    }, 300);
    return () => clearTimeout(t);
  }, [newest && newest.id, newest && newest.status]);

  const older = async () => {
    if (!next || loadingOlder.current) return;
    loadingOlder.current = true;
    try {
      const page = await get(`${base}?limit=${OLDER_PAGE}&before=${esc(next)}`);
      merge(page.messages);
      setNext(page.next || null);
    } catch (e) {
      setError(e);
    } finally {
      loadingOlder.current = false;
    }
  };

  const sent = (m) => { merge([m]); setFollow((n) => n + 1); };

  const renderRow = (m, i) => html`<${Row} m=${m} prev=${msgs[i - 1]} kind=${kind} first=${i === 0 && !next && loaded} />`;
  const people = group ? (group.peers === 1 ? '1 computer connected' : `${count(group.peers)} computers connected`) : contact ? (contact.online ? 'Online now' : 'Not connected right now') : '';

  return html`<section class="conversation" aria-labelledby="conv-title">
    <header class="conv-head">
      <a class="back" href="#/chats" aria-label="Back to chats">‹</a>
      <div class="conv-title">
        <h1 id="conv-title">${title || 'Conversation'}</h1>
        <p class="sub">${people}</p>
      </div>
      ${group && html`<a class="button secondary" href=${'#/group/' + group.id}>Group details</a>`}
    </header>
    ${group && html`<${SyncState} g=${group} />`}
    <${ErrorText} error=${error} />
    ${loaded && msgs.length === 0 && html`<p class="empty">No messages yet. Say hello!</p>`}
    <${VList} items=${msgs} keyOf=${(m) => m.id} renderRow=${renderRow} onNearTop=${older}
      label=${'Messages' + (title ? ' in ' + title : '')} id="messages" follow=${follow} />
    <div class="sr-only" aria-live="polite" id="announce">${announce}</div>
    ${kind === 'd' && contact && contact.state !== 'accepted'
      ? html`<p class="note">${contact.state === 'blocked' ? 'You blocked this person.' : 'You can write once you have both accepted each other.'}</p>`
      : html`<${Composer} kind=${kind} id=${id} title=${title} onSent=${sent} />`}
  </section>`;
}

// SyncState tells honestly what this node does not have yet.
function SyncState({ g }) {
  const parts = [];
  if (g.catching_up) {
    parts.push(html`<p class="sync" role="status">Catching up: ${count(g.catching_up.received)} of ${count(g.catching_up.expected)}</p>`);
  }
  if (g.missing > 0) {
    parts.push(html`<p class="sync missing" role="status">${plural(g.missing, 'message')} not here yet. They will arrive when a computer that has them is reachable.</p>`);
  }
  return parts.length ? html`<div class="sync-box">${parts}</div>` : null;
}

function Row({ m, prev, kind, first }) {
  const day = !prev || new Date(prev.time).toDateString() !== new Date(m.time).toDateString();
  const env = kind === 'g' ? parseEnvelope(m.text) : null;
  const who = m.mine ? 'You' : kind === 'g' ? nameOf(m.author, m.by) : '';
  return html`<div class=${'msg' + (m.mine ? ' mine' : '')}>
    ${first && html`<p class="start">This is the start of the conversation.</p>`}
    ${day && html`<p class="day"><span>${formatDay(m.time)}</span></p>`}
    <div class="bubble">
      <p class="meta">${who && html`<span class="author">${who}</span>`}<time datetime=${m.time}>${formatTime(m.time)}</time></p>
      ${env ? html`<${Envelope} env=${env} mine=${m.mine} />` : html`<p class="text">${m.text}</p>`}
      ${m.mine && m.status && html`<p class="status" title=${statusLabel(m)}><span class="sr-only">${statusLabel(m)}</span><span aria-hidden="true">✓ ${statusShort(m)}</span></p>`}
    </div>
  </div>`;
}

// Envelope is a red envelope announced in a group: what this node knows
// of it (shares claimed, when it expires, what came of it, in the node's
// words) and a button to claim a share while one can.
function Envelope({ env, mine }) {
  const st = useStore();
  const [info, setInfo] = useState(null);
  const act = useAction();
  const load = () => get(`/v1/wallet/envelopes/${env.id}`).then(setInfo, () => setInfo(null));
  // The wallet's balance changes when the envelope is claimed or dealt.
  useEffect(() => { load(); }, [env.id, st.wallet && st.wallet.balance]);
  const claim = () => act.run(async () => {
    const e = await post(`/v1/wallet/envelopes/${env.id}/claim`);
    if (e.status !== 'ok' && e.status !== 'pending') throw new Error('Not claimed: ' + (e.reason || e.status) + '.');
    await load();
    refreshWallet().catch(() => {});
  });
  const open = info ? !info.settled && !info.your_claim && new Date(info.expires) > new Date() : true;
  return html`<div class="envelope">
    <p class="env-title"><span aria-hidden="true">🧧 </span>Red envelope</p>
    <p>${money(env.total, env.unit)} in ${plural(env.shares, 'share')}.</p>
    ${info && html`<p class="hint env-note">${info.note}</p>`}
    ${!info && mine && html`<p class="hint">You sent this. Shares left over come back to you.</p>`}
    ${!mine && open && html`<button type="button" onClick=${claim} disabled=${act.busy}>Claim a share</button>`}
    <${ErrorText} error=${act.error} />
  </div>`;
}

function Composer({ kind, id, title, onSent }) {
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  // Each conversation mounts a composer of its own (App keys it by route),
  // so it starts empty; clearing it in an effect, once the page has
  // painted, would wipe what a quick typist wrote meanwhile.
  const ref = useRef(null);
  const send = async () => {
    // What the box holds now: an Enter typed right after the last letters
    // comes before the render that would put them in the state.
    const t = (ref.current ? ref.current.value : text).replace(/\s+$/, '');
    if (!t.trim() || busy) return;
    setBusy(true); setError(null);
    try {
      const path = kind === 'g' ? `/v1/groups/${esc(id)}/messages` : `/v1/dm/${esc(id)}`;
      const m = await post(path, { text: t });
      setText('');
      onSent(m);
      noteLast(kind + ':' + id, m);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
      ref.current && ref.current.focus();
    }
  };
  const onKey = (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      send();
    }
  };
  return html`<form class="composer" onSubmit=${(e) => { e.preventDefault(); send(); }}>
    <${ErrorText} error=${error} />
    <div class="composer-row">
      <label for="composer" class="sr-only">Write a message${title ? ' to ' + title : ''}</label>
      <textarea id="composer" ref=${ref} rows="1" value=${text} placeholder="Write a message"
        aria-describedby="composer-hint"
        onInput=${(e) => setText(e.currentTarget.value)} onKeyDown=${onKey}></textarea>
      <button type="submit" disabled=${busy || !text.trim()}>Send</button>
    </div>
    <p class="hint sr-only" id="composer-hint">Enter sends. Shift and Enter start a new line.</p>
  </form>`;
}
