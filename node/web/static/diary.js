// The diary: private, dated entries that stay on this computer. Writing one,
// searching them, and deleting one.
import { html, useState, useEffect } from './lib.js';
import { get, post, del, esc } from './api.js';
import { ErrorText, useAction, Confirm } from './ui.js';
import { formatDay } from './util.js';

const today = () => {
  const d = new Date(), p = (n) => String(n).padStart(2, '0');
  return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate());
};

export function Diary() {
  const [entries, setEntries] = useState(null);
  const [q, setQ] = useState('');
  const load = useAction();
  const reload = (query = q) => load.run(async () => setEntries(await get('/v1/diary?limit=200' + (query.trim() ? '&q=' + esc(query.trim()) : ''))));
  useEffect(() => { reload(''); }, []);
  const search = (e) => { e.preventDefault(); reload(); };
  return html`<div class="page">
    <header class="page-head"><a href="#/schedule" class="back" aria-label="Back to the schedule">‹</a><h1>Diary</h1></header>
    <p class="hint">Only on this computer: your diary is never sent to anyone, and it is kept locked with your own key.</p>
    <${Write} onWritten=${() => reload()} />
    <form class="card inline-form" role="search" onSubmit=${search} aria-label="Search the diary">
      <div class="field"><label for="diary-q">Search</label>
        <input id="diary-q" type="search" value=${q} onInput=${(e) => setQ(e.currentTarget.value)} /></div>
      <button type="submit" class="secondary">Search</button>
    </form>
    <${ErrorText} error=${load.error} />
    ${entries && entries.length === 0 && html`<p class="empty" id="no-entries">${q.trim() ? 'No entry holds all of these words.' : 'Nothing written yet.'}</p>`}
    <ul class="entries" aria-label="Diary entries">
      ${(entries || []).map((e) => html`<${EntryRow} key=${e.id} e=${e} onDeleted=${() => reload()} />`)}
    </ul>
  </div>`;
}

function Write({ onWritten }) {
  const [date, setDate] = useState(today());
  const [text, setText] = useState('');
  const act = useAction();
  const write = (e) => {
    e.preventDefault();
    const t = text;
    setText('');
    act.run(async () => {
      try { await post('/v1/diary', { date, text: t }); } catch (err) { setText(t); throw err; }
      onWritten();
    });
  };
  return html`<form class="card" onSubmit=${write} aria-labelledby="diary-write">
    <h2 id="diary-write">Write</h2>
    <div class="field"><label for="diary-date">Day</label>
      <input id="diary-date" type="date" value=${date} required onInput=${(e) => setDate(e.currentTarget.value)} /></div>
    <div class="field"><label for="diary-text">What happened</label>
      <textarea id="diary-text" rows="4" required value=${text} onInput=${(e) => setText(e.currentTarget.value)}></textarea></div>
    <${ErrorText} error=${act.error} />
    <button type="submit" disabled=${act.busy}>Save entry</button>
  </form>`;
}

function EntryRow({ e, onDeleted }) {
  const [open, setOpen] = useState(false);
  const [sharing, setSharing] = useState(false);
  const [shared, setShared] = useState('');
  const act = useAction();
  const remove = () => act.run(async () => { await del('/v1/diary/' + esc(e.id)); setOpen(false); onDeleted(); });
  const share = () => act.run(async () => {
    await post('/v1/diary/' + esc(e.id) + '/share');
    setSharing(false);
    setShared('Shared with your contacts as a moment. It stays in your diary too.');
  });
  return html`<li class="card entry" data-id=${e.id}>
    <h3 class="entry-date">${formatDay(e.date + 'T12:00:00')}</h3>
    <p class="entry-text">${e.text}</p>
    <${ErrorText} error=${act.error} />
    ${shared && html`<p class="done" role="status">${shared}</p>`}
    <div class="actions">
      <button type="button" class="secondary small share" onClick=${() => setSharing(true)}>Share as a moment…</button>
      <button type="button" class="secondary small" onClick=${() => setOpen(true)}>Delete…</button>
    </div>
    <${Confirm} open=${sharing} title="Share this entry?" confirmLabel="Share with my contacts" onConfirm=${share} onCancel=${() => setSharing(false)}>
      <p>Your contacts will see it in their moments. Once they have it, you cannot take it back from their computers' memory of it, only delete the moment.</p>
    </${Confirm}>
    <${Confirm} open=${open} title="Delete this entry?" confirmLabel="Delete" danger onConfirm=${remove} onCancel=${() => setOpen(false)}>
      <p>It is only on this computer, so it will be gone for good.</p>
    </${Confirm}>
  </li>`;
}
