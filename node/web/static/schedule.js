// The personal schedule: the upcoming events of every group, answering
// them (going, maybe, not going), who else goes, posting a new event, and
// a reminder for what starts within the hour.
import { html, useState, useEffect } from './lib.js';
import { get, post, del, esc } from './api.js';
import { useStore, personName } from './store.js';
import { ErrorText, useAction, Section, Confirm } from './ui.js';

const ANSWERS = [['going', 'Going'], ['maybe', 'Maybe'], ['not-going', 'Not going']];

// when shows an event's start in the reader's own words and time zone.
function when(iso) {
  return new Date(iso).toLocaleString(undefined, { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
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
      ${soon.map((e) => html`<p key=${e.id}><strong>Starting soon:</strong> ${e.title}, ${when(e.start)}${e.place ? ' at ' + e.place : ''}</p>`)}
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
  const cancel = () => act.run(async () => { await del(`/v1/schedule/${esc(e.id)}`); setConfirm(false); onCancelled(); });
  const answer = (a) => act.run(async () => onChange(await post(`/v1/schedule/${esc(e.id)}/rsvp`, { answer: a })));
  const names = (ps) => ps.map(personName).join(', ');
  return html`<li class=${'event' + (e.soon ? ' soon' : '')} data-id=${e.id}>
    <p class="event-when">${when(e.start)} · ${e.group_name}</p>
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
    ${e.mine && html`<button type="button" class="secondary small cancel-event" onClick=${() => setConfirm(true)}>Cancel the event…</button>
      <${Confirm} open=${confirm} title=${'Cancel ' + e.title + '?'} confirmLabel="Cancel the event" danger onConfirm=${cancel} onCancel=${() => setConfirm(false)}>
        <p>Everyone in ${e.group_name} will see that it is off.</p>
      </${Confirm}>`}
    <${ErrorText} error=${act.error} />
  </li>`;
}

function NewEvent({ onCreated }) {
  const st = useStore();
  const [group, setGroup] = useState('');
  const [title, setTitle] = useState('');
  const [start, setStart] = useState('');
  const [place, setPlace] = useState('');
  const [about, setAbout] = useState('');
  const act = useAction();
  const g = group || (st.groups[0] && st.groups[0].id) || '';
  const create = (ev) => {
    ev.preventDefault();
    act.run(async () => {
      const t = new Date(start);
      if (!start || isNaN(t)) throw new Error('Say when it starts.');
      await post(`/v1/groups/${esc(g)}/events`, { title, start: t.toISOString(), place, description: about });
      setTitle(''); setStart(''); setPlace(''); setAbout('');
      onCreated();
    });
  };
  if (st.groups.length === 0) return html`<p class="empty">Join or start a group to post events in it.</p>`;
  return html`<form class="card" onSubmit=${create} aria-labelledby="new-event">
    <h2 id="new-event">New event</h2>
    <div class="field"><label for="event-group">In the group</label>
      <select id="event-group" value=${g} onChange=${(e) => setGroup(e.currentTarget.value)}>
        ${st.groups.map((x) => html`<option key=${x.id} value=${x.id}>${x.name}</option>`)}
      </select></div>
    <div class="field"><label for="event-title">What</label>
      <input id="event-title" value=${title} maxlength="128" required onInput=${(e) => setTitle(e.currentTarget.value)} /></div>
    <div class="field"><label for="event-start">When</label>
      <input id="event-start" type="datetime-local" value=${start} required onInput=${(e) => setStart(e.currentTarget.value)} /></div>
    <div class="field"><label for="event-place">Where (optional)</label>
      <input id="event-place" value=${place} maxlength="128" onInput=${(e) => setPlace(e.currentTarget.value)} /></div>
    <div class="field"><label for="event-about">More about it (optional)</label>
      <textarea id="event-about" rows="3" value=${about} onInput=${(e) => setAbout(e.currentTarget.value)}></textarea></div>
    <${ErrorText} error=${act.error} />
    <button type="submit" disabled=${act.busy}>Post event</button>
  </form>`;
}
