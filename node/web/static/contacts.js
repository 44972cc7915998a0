// People: my own code to share (QR and link), adding someone by their code
// or because they are nearby, answering requests, nicknames and blocking.
import { html, useState, useEffect } from './lib.js';
import { get, post, put, esc } from './api.js';
import { useStore, contactName, refreshContacts } from './store.js';
import { shortID } from './util.js';
import { Field, CopyText, QR, Confirm, ErrorText, Done, useAction, Section } from './ui.js';

export function People({ stream }) {
  const st = useStore();
  const [invite, setInvite] = useState(null);
  const [nearby, setNearby] = useState([]);
  const inv = useAction();
  const loadNearby = () => get('/v1/nearby').then(setNearby, () => {});
  useEffect(() => {
    inv.run(async () => setInvite(await get('/v1/contacts/invite')));
    refreshContacts().catch(() => {});
    loadNearby();
    const t = setInterval(() => { if (!document.hidden) { loadNearby(); refreshContacts().catch(() => {}); } }, 5000);
    const off = stream.on((ev) => { if (ev.type === 'resumed') { loadNearby(); refreshContacts().catch(() => {}); } });
    return () => { clearInterval(t); off(); };
  }, []);

  const by = (s) => st.contacts.filter((c) => c.state === s);
  const pending = by('pending'), requested = by('requested'), accepted = by('accepted'), blocked = by('blocked');
  const others = nearby.filter((n) => !n.is_contact);

  return html`<div class="page">
    <header class="page-head"><h1>People</h1></header>
    ${pending.length > 0 && html`<${Section} title="Asking to talk with you" id="requests-title" className="attention">
      <ul class="people">${pending.map((c) => html`<${Request} key=${c.peer_id} c=${c} />`)}</ul>
    </${Section}>`}
    <${Section} title="Your contacts" id="contacts-title">
      ${accepted.length === 0 && requested.length === 0 && html`<p class="empty">No contacts yet.</p>`}
      <ul class="people">
        ${accepted.map((c) => html`<${ContactRow} key=${c.peer_id} c=${c} />`)}
        ${requested.map((c) => html`<li key=${c.peer_id} class="person">
          <span class="person-name">${contactName(c)}</span>
          <span class="person-note">Waiting for them to accept</span>
        </li>`)}
      </ul>
    </${Section}>
    <${Section} title="Your code" id="mycode-title">
      <p>Let someone scan this QR code, or send them the link, so that they can add you.</p>
      <${ErrorText} error=${inv.error} />
      ${invite && html`<div class="invite">
        <${QR} src="/v1/contacts/invite.png" alt="QR code with your contact code" />
        <${CopyText} id="my-link" label="Your contact link" text=${invite.link} />
      </div>`}
    </${Section}>
    <${AddByCode} />
    <${Section} title="People nearby" id="nearby-title">
      ${others.length === 0
        ? html`<p class="empty">Nobody new is connected right now. People who run Banyan on the same network show up here.</p>`
        : html`<ul class="people">${others.map((n) => html`<${NearbyRow} key=${n.peer_id} n=${n} onAdded=${loadNearby} />`)}</ul>`}
    </${Section}>
    ${blocked.length > 0 && html`<${Section} title="Blocked" id="blocked-title">
      <p class="hint">Blocked people cannot write to you.</p>
      <ul class="people">${blocked.map((c) => html`<${BlockedRow} key=${c.peer_id} c=${c} />`)}</ul>
    </${Section}>`}
  </div>`;
}

function BlockedRow({ c }) {
  const act = useAction();
  const name = contactName(c);
  const unblock = () => act.run(async () => { await post(`/v1/contacts/${esc(c.peer_id)}/unblock`); await refreshContacts(); });
  return html`<li class="person">
    <span class="person-name">${name}</span>
    <span class="person-actions">
      <button type="button" class="secondary" onClick=${unblock} disabled=${act.busy} aria-label=${'Unblock ' + name}>Unblock</button>
    </span>
    <${ErrorText} error=${act.error} />
  </li>`;
}

function AddByCode() {
  const [code, setCode] = useState('');
  const [done, setDone] = useState('');
  const act = useAction();
  const add = (e) => {
    e.preventDefault();
    setDone('');
    act.run(async () => {
      const c = await post('/v1/contacts', { code: code.trim() });
      setCode('');
      await refreshContacts();
      setDone(`Request sent to ${contactName(c)}. You can write once they accept.`);
    });
  };
  return html`<form class="card" onSubmit=${add} aria-labelledby="add-title">
    <h2 id="add-title">Add someone with their code</h2>
    <${Field} id="contact-code" label="Their contact code or link" value=${code} onInput=${setCode} required multiline
      hint="It starts with c1. or banyan:c1." />
    <${ErrorText} error=${act.error} />
    <${Done} text=${done} />
    <button type="submit" disabled=${act.busy || !code.trim()}>Send request</button>
  </form>`;
}

function NearbyRow({ n, onAdded }) {
  const act = useAction();
  const add = () => act.run(async () => {
    await post('/v1/contacts', { peer_id: n.peer_id });
    await refreshContacts();
    onAdded();
  });
  const name = n.name || 'Someone ' + shortID(n.peer_id);
  return html`<li class="person">
    <span class="person-name">${name}</span>
    <button type="button" onClick=${add} disabled=${act.busy} aria-label=${'Add ' + name}>Add</button>
    <${ErrorText} error=${act.error} />
  </li>`;
}

function Request({ c }) {
  const act = useAction();
  const [confirm, setConfirm] = useState(false);
  const accept = () => act.run(async () => { await post(`/v1/contacts/${esc(c.peer_id)}/accept`); await refreshContacts(); });
  const block = () => act.run(async () => { await post(`/v1/contacts/${esc(c.peer_id)}/block`); setConfirm(false); await refreshContacts(); });
  const name = contactName(c);
  return html`<li class="person">
    <span class="person-name">${name}</span>
    <span class="person-actions">
      <button type="button" onClick=${accept} disabled=${act.busy} aria-label=${'Accept ' + name}>Accept</button>
      <button type="button" class="secondary" onClick=${() => setConfirm(true)} disabled=${act.busy} aria-label=${'Block ' + name}>Block</button>
    </span>
    <${ErrorText} error=${act.error} />
    <${Confirm} open=${confirm} title=${'Block ' + name + '?'} confirmLabel="Block" danger onConfirm=${block} onCancel=${() => setConfirm(false)}>
      <p>They will not be able to write to you. Unblocking is not possible yet.</p>
    </${Confirm}>
  </li>`;
}

function ContactRow({ c }) {
  const [editing, setEditing] = useState(false);
  const [nick, setNick] = useState(c.nickname || '');
  const [confirm, setConfirm] = useState(false);
  const act = useAction();
  const name = contactName(c);
  const save = (e) => {
    e.preventDefault();
    act.run(async () => {
      await put(`/v1/contacts/${esc(c.peer_id)}/nickname`, { nickname: nick.trim() });
      await refreshContacts();
      setEditing(false);
    });
  };
  const block = () => act.run(async () => { await post(`/v1/contacts/${esc(c.peer_id)}/block`); setConfirm(false); await refreshContacts(); });
  return html`<li class="person">
    <span class="person-name"><span class=${'dot' + (c.online ? ' on' : '')} aria-hidden="true"></span><a href=${'#/person/' + c.peer_id}>${name}</a>
      <span class="sr-only">${c.online ? ', online' : ', not connected'}</span></span>
    <span class="person-actions">
      <a class="button" href=${'#/chat/d/' + c.peer_id} aria-label=${'Write to ' + name}>Write</a>
      <button type="button" class="secondary" onClick=${() => setEditing(!editing)} aria-expanded=${editing} aria-label=${'Rename ' + name}>Rename</button>
      <button type="button" class="secondary" onClick=${() => setConfirm(true)} aria-label=${'Block ' + name}>Block</button>
    </span>
    ${editing && html`<form class="inline-form" onSubmit=${save}>
      <${Field} id=${'nick-' + c.peer_id} label=${'Your name for ' + name} value=${nick} onInput=${setNick} />
      <button type="submit" disabled=${act.busy}>Save name</button>
    </form>`}
    <${ErrorText} error=${act.error} />
    <${Confirm} open=${confirm} title=${'Block ' + name + '?'} confirmLabel="Block" danger onConfirm=${block} onCancel=${() => setConfirm(false)}>
      <p>They will not be able to write to you any more. Unblocking is not possible yet.</p>
    </${Confirm}>
  </li>`;
}
