// The personal schedule: the upcoming events of every group and of one's
// contacts, answering them (going, maybe, not going), who else goes,
// posting a new event in a group or to one's contacts, editing or
// cancelling one's own, and a reminder for what starts within the hour.
import { html, useState, useEffect } from './lib.js';
import { get, post, put, del, esc } from './api.js';
import { useStore, personName, personWord } from './store.js';
import { ErrorText, useAction, Section, Confirm } from './ui.js';
import { formatWhen } from './util.js';

const ANSWERS = [['going', 'Going'], ['maybe', 'Maybe'], ['not-going', 'Not going']];

// where says who sees an event: a group, or its author's contacts.
function where(e) {
  if (!e.contacts) return e.group_name;
  return e.mine ? 'your contacts' : personName(e.by) + "'s contacts";
}

// localInput writes a time as a datetime-local field holds it.
function localInput(iso) {
  const d = new Date(iso);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}


export function Schedule({ stream }) {
  const [events, setEvents] = useState(null);
  const load = useAction();
  const reload = () => load.run(async () => setEvents(await get('/v1/schedule')));
  useEffect(() => {
    reload();
    return stream.on((ev) => { if (ev.event || ev.rsvp || ev.reminder) reload(); });
  }, []);
  const soon = (events || []).filter((e) => e.soon && e.you !== 'not-going');
  return html`<div class="page">
    <header class="page-head"><h1>Schedule</h1><a class="button secondary small-link" id="to-diary" href="#/diary">Diary</a></header>
    ${soon.length > 0 && html`<div class="card reminder" role="status" id="reminders">
      ${soon.map((e) => html`<p key=${e.id}><strong>Starting soon:</strong> ${e.title}, ${formatWhen(e.start)}${e.place ? ' at ' + e.place : ''}</p>`)}
    </div>`}
    <${ErrorText} error=${load.error} />
    <${Section} title="Coming up" id="upcoming-title">
      ${events && events.length === 0 && html`<p class="empty" id="no-events">Nothing planned. Post an event below, or wait for one in your groups.</p>`}
      <ul class="events" aria-labelledby="upcoming-title">
        ${(events || []).map((e) => html`<${EventRow} key=${e.id} e=${e} onCancelled=${reload} onChange=${(n) => setEvents((es) => es.map((x) => (x.id === n.id ? n : x)))} />`)}
      </ul>
    </${Section}>
    <${NewEvent} onCreated=${reload} />
  </div>`;
}

function EventRow({ e, onChange, onCancelled }) {
  const act = useAction();
  const [confirm, setConfirm] = useState(false);
  const [editing, setEditing] = useState(false);
  const cancel = () => act.run(async () => { await del(`/v1/schedule/${esc(e.id)}`); setConfirm(false); onCancelled(); });
  const answer = (a) => act.run(async () => onChange(await post(`/v1/schedule/${esc(e.id)}/rsvp`, { answer: a })));
  const names = (ps) => ps.map(personWord).join(', ');
  return html`<li class=${'event' + (e.soon ? ' soon' : '')} data-id=${e.id}>
    <p class="event-when">${formatWhen(e.start)} · ${where(e)}</p>
    <h3 class="event-title">${e.title}</h3>
    ${e.place && html`<p class="event-place">At ${e.place}</p>`}
    ${e.description && html`<p class="event-about">${e.description}</p>`}
    <p class="event-people">
      ${e.going.length} going${e.going.length ? ' (' + names(e.going) + ')' : ''}${e.maybe.length ? ', ' + e.maybe.length + ' maybe (' + names(e.maybe) + ')' : ''}${e.not_going.length ? ', ' + e.not_going.length + ' not going' : ''}
    </p>
    <div class="rsvp" role="group" aria-label=${'Your answer to ' + e.title}>
      ${ANSWERS.map(([a, label]) => html`<button type="button" key=${a} class=${'small ' + (e.you === a ? '' : 'secondary')} data-answer=${a}
        aria-pressed=${e.you === a ? 'true' : 'false'} disabled=${act.busy} onClick=${() => answer(a)}>${label}</button>`)}
    </div>
    ${e.mine && !editing && html`<div class="event-actions">
      <button type="button" class="secondary small edit-event" onClick=${() => setEditing(true)}>Change…</button>
      <button type="button" class="secondary small cancel-event" onClick=${() => setConfirm(true)}>Cancel the event…</button>
    </div>`}
    ${e.mine && editing && html`<${EventForm} id=${'edit-' + e.id} heading="Change the event" submit="Save" initial=${e}
      note=${'Everyone who sees it (' + where(e) + ') gets the new version; their answers stay.'}
      onSubmit=${async (body) => { onChange(await put(`/v1/schedule/${esc(e.id)}`, body)); setEditing(false); }}
      onClose=${() => setEditing(false)} />`}
    ${e.mine && html`<${Confirm} open=${confirm} title=${'Cancel ' + e.title + '?'} confirmLabel="Cancel the event" danger onConfirm=${cancel} onCancel=${() => setConfirm(false)}>
        <p>${e.contacts ? 'Your contacts' : 'Everyone in ' + e.group_name} will see that it is off.</p>
      </${Confirm}>`}
    <${ErrorText} error=${act.error} />
  </li>`;
}

// EventForm is what an event says, to post it or change it.
function EventForm({ id, heading, submit, initial, note, children, onSubmit, onClose }) {
  const [title, setTitle] = useState(initial ? initial.title : '');
  const [start, setStart] = useState(initial ? localInput(initial.start) : '');
  const [place, setPlace] = useState(initial ? initial.place || '' : '');
  const [about, setAbout] = useState(initial ? initial.description || '' : '');
  const act = useAction();
  const send = (ev) => {
    ev.preventDefault();
    act.run(async () => {
      const t = new Date(start);
      if (!start || isNaN(t)) throw new Error('Say when it starts.');
      await onSubmit({ title, start: t.toISOString(), place, description: about });
      setTitle(''); setStart(''); setPlace(''); setAbout('');
    });
  };
  return html`<form class="card event-form" id=${id} onSubmit=${send} aria-labelledby=${id + '-h'}>
    <h2 id=${id + '-h'}>${heading}</h2>
    ${children}
    <div class="field"><label for=${id + '-title'}>What</label>
      <input id=${id + '-title'} name="title" value=${title} maxlength="128" required onInput=${(e) => setTitle(e.currentTarget.value)} /></div>
    <div class="field"><label for=${id + '-start'}>When</label>
      <input id=${id + '-start'} name="start" type="datetime-local" value=${start} required onInput=${(e) => setStart(e.currentTarget.value)} /></div>
    <div class="field"><label for=${id + '-place'}>Where (optional)</label>
      <input id=${id + '-place'} name="place" value=${place} maxlength="128" onInput=${(e) => setPlace(e.currentTarget.value)} /></div>
    <div class="field"><label for=${id + '-about'}>More about it (optional)</label>
      <textarea id=${id + '-about'} name="about" rows="3" value=${about} onInput=${(e) => setAbout(e.currentTarget.value)}></textarea></div>
    ${note && html`<p class="hint">${note}</p>`}
    <${ErrorText} error=${act.error} />
    <button type="submit" disabled=${act.busy}>${submit}</button>
    ${onClose && html` <button type="button" class="secondary" onClick=${onClose}>Keep it as it is</button>`}
  </form>`;
}

// NewEvent posts an event in a group or to one's contacts.
function NewEvent({ onCreated }) {
  const st = useStore();
  const [to, setTo] = useState('');
  const dest = to || (st.groups[0] && st.groups[0].id) || 'contacts';
  const create = async (body) => {
    await post(dest === 'contacts' ? '/v1/events' : `/v1/groups/${esc(dest)}/events`, body);
    onCreated();
  };
  const note = dest === 'contacts'
    ? 'Your contacts see it as they see your moments: someone you add later sees it too; someone you remove or block does not see what you post after that.'
    : '';
  return html`<${EventForm} id="event" heading="New event" submit="Post event" note=${note} onSubmit=${create}>
    <div class="field"><label for="event-group">For</label>
      <select id="event-group" value=${dest} onChange=${(e) => setTo(e.currentTarget.value)}>
        ${st.groups.map((x) => html`<option key=${x.id} value=${x.id}>${x.name}</option>`)}
        <option value="contacts">My contacts</option>
      </select></div>
  </${EventForm}>`;
}
