// A group's details: inviting people (link, code and QR code), how much
// history this computer keeps, and leaving the group.
import { html, useState, useEffect } from './lib.js';
import { get, put, del, esc } from './api.js';
import { useStore, refreshGroups } from './store.js';
import { count, plural, retentionLabel, parseDurationHours, formatDay } from './util.js';
import { CopyText, QR, Confirm, ErrorText, Done, useAction, Section } from './ui.js';

const KEEP = [
  ['', 'Everything'],
  ['720h', '30 days'],
  ['2160h', '90 days'],
  ['8760h', '1 year'],
];

export function GroupDetails({ id }) {
  const st = useStore();
  const g = st.groups.find((g) => g.id === id);
  const [invite, setInvite] = useState(null);
  const inv = useAction();
  useEffect(() => { inv.run(async () => setInvite(await get(`/v1/groups/${esc(id)}/invite`))); }, [id]);
  if (!g) {
    return html`<div class="page"><header class="page-head"><a class="back" href="#/chats" aria-label="Back to chats">‹</a><h1>Group</h1></header>
      <p class="empty">This group is not on this computer (any more).</p></div>`;
  }
  return html`<div class="page">
    <header class="page-head">
      <a class="back" href=${'#/chat/g/' + id} aria-label="Back to the conversation">‹</a>
      <h1>${g.name}</h1>
    </header>
    <p><a class="button secondary" id="group-lists" href=${'#/lists/' + id}>Shared lists</a></p>
    <${Section} title="Invite people" id="invite-title">
      <p>Show this QR code, or send the link. Anyone who has it can join and read the group.</p>
      <${ErrorText} error=${inv.error} />
      ${invite && html`<div class="invite">
        <${QR} src=${`/v1/groups/${esc(id)}/invite.png`} alt=${'QR code to join ' + g.name} />
        <${CopyText} id="invite-link" label="Invite link" text=${invite.link} />
      </div>`}
    </${Section}>
    <${Section} title="About this group" id="about-title">
      <dl class="facts">
        <dt>Messages here</dt><dd>${count(g.messages)}</dd>
        <dt>Computers connected in the group</dt><dd>${count(g.peers)}</dd>
        <dt>Joined</dt><dd>${formatDay(g.joined)}</dd>
        <dt>Not here yet</dt><dd>${g.missing ? plural(g.missing, 'message') : 'None — this computer has every message it knows of'}</dd>
        ${g.catching_up && html`<dt>Catching up</dt><dd>${count(g.catching_up.received)} of ${count(g.catching_up.expected)}</dd>`}
      </dl>
    </${Section}>
    <${Retention} g=${g} />
    <${Leave} g=${g} />
  </div>`;
}

function Retention({ g }) {
  const hours = parseDurationHours(g.retention);
  const cur = g.retention ? (hours === null ? g.retention : hours + 'h') : '';
  const preset = KEEP.some(([v]) => v === cur) ? cur : 'custom';
  const [keep, setKeep] = useState(preset);
  const [days, setDays] = useState(hours ? String(Math.round(hours / 24)) : '');
  const [mb, setMB] = useState(g.quota ? String(Math.round(g.quota / 1e6)) : '');
  const [done, setDone] = useState('');
  const act = useAction();
  const save = (e) => {
    e.preventDefault();
    setDone('');
    act.run(async () => {
      let retention = keep;
      if (keep === 'custom') {
        const d = Number(days);
        if (!Number.isInteger(d) || d < 1) throw new Error('Type a whole number of days, 1 or more.');
        retention = d * 24 + 'h';
      }
      let quota = 0;
      if (mb.trim()) {
        const m = Number(mb);
        if (!Number.isInteger(m) || m < 1) throw new Error('Type the most space to use as a whole number of megabytes, or leave it empty.');
        quota = m * 1e6;
      }
      await put(`/v1/groups/${esc(g.id)}/retention`, { retention, quota });
      await refreshGroups();
      setDone('Saved. Older messages beyond this are removed from this computer.');
    });
  };
  return html`<form class="card" onSubmit=${save} aria-labelledby="keep-title">
    <h2 id="keep-title">History kept on this computer</h2>
    <p>${retentionLabel(g)}. Messages removed here stay on other computers that keep them.</p>
    <fieldset>
      <legend>Keep messages for</legend>
      ${KEEP.concat([['custom', 'A number of days']]).map(([v, label]) => html`<label class="choice" key=${v}>
        <input type="radio" name="keep" value=${v} checked=${keep === v} onChange=${() => setKeep(v)} /> ${label}
      </label>`)}
    </fieldset>
    ${keep === 'custom' && html`<div class="field"><label for="keep-days">Days</label>
      <input id="keep-days" inputmode="numeric" value=${days} onInput=${(e) => setDays(e.currentTarget.value)} /></div>`}
    <div class="field"><label for="keep-mb">Most space to use, in megabytes (empty for no limit)</label>
      <input id="keep-mb" inputmode="numeric" value=${mb} onInput=${(e) => setMB(e.currentTarget.value)} /></div>
    <${ErrorText} error=${act.error} />
    <${Done} text=${done} />
    <button type="submit" disabled=${act.busy}>Save</button>
  </form>`;
}

function Leave({ g }) {
  const [open, setOpen] = useState(false);
  const act = useAction();
  const leave = () => act.run(async () => {
    await del(`/v1/groups/${esc(g.id)}`);
    setOpen(false);
    await refreshGroups();
    location.hash = '#/chats';
  });
  return html`<section class="card" aria-labelledby="leave-title">
    <h2 id="leave-title">Leave the group</h2>
    <p>You stop receiving its messages, and its history is deleted from this computer.</p>
    <${ErrorText} error=${act.error} />
    <button type="button" class="danger" onClick=${() => setOpen(true)}>Leave ${g.name}…</button>
    <${Confirm} open=${open} title=${'Leave ' + g.name + '?'} confirmLabel="Leave and delete" danger
      onConfirm=${leave} onCancel=${() => setOpen(false)}>
      <p>All ${count(g.messages)} messages of this group will be deleted from this computer. You can only come back with a new invite.</p>
    </${Confirm}>
  </section>`;
}
