// Moments: the feed of contacts' posts and the user's, newest first, with
// unread markers, likes and comments; sharing a moment; deleting one's
// own. Text from the network is shown as text, never HTML.
import { html, useState, useEffect } from './lib.js';
import { get, post, del, esc } from './api.js';
import { formatTime, plural } from './util.js';
import { later } from './store.js';
import { Field, ErrorText, Confirm, useAction } from './ui.js';
import { shrinkPicture } from './picture.js';

export function Moments({ stream }) {
  const [feed, setFeed] = useState(null);
  const [older, setOlder] = useState([]);
  const [next, setNext] = useState('');
  const load = useAction();
  const refresh = () => load.run(async () => {
    const f = await get('/v1/moments?limit=20');
    setFeed(f);
    setOlder([]);
    setNext(f.next || '');
    // Shown is read; the markers stay on screen until the next visit.
    if (f.moments.length > 0) await post('/v1/moments/read', { cursor: f.moments[0].cursor });
  });
  useEffect(() => {
    refresh();
    // A burst of likes or a catch-up reloads the page once.
    const soon = later(refresh);
    return stream.on((ev) => {
      if (ev.type === 'resumed' || ev.moment || ev.moment_reaction || ev.moment_deleted) soon();
    });
  }, []);
  const more = () => load.run(async () => {
    const f = await get('/v1/moments?limit=20&before=' + esc(next));
    setOlder((o) => o.concat(f.moments));
    setNext(f.next || '');
  });
  const all = feed ? feed.moments.concat(older) : [];
  return html`<div class="page">
    <header class="page-head"><h1>Moments</h1>
      ${feed && feed.unread > 0 && html`<span class="badge" id="moments-unread">${feed.unread} new</span>`}
      <a class="button secondary push" href="#/profile">Your profile</a>
    </header>
    <${Composer} onPosted=${refresh} />
    <${ErrorText} error=${load.error} />
    ${feed && all.length === 0 && html`<p class="empty">No moments yet. Share one, or add contacts on the People screen.</p>`}
    <ol class="moments" aria-label="Moments, newest first">
      ${all.map((m) => html`<${Moment} key=${m.id} m=${m} onChange=${refresh} />`)}
    </ol>
    ${next && html`<button type="button" class="secondary" id="moments-older" onClick=${more} disabled=${load.busy}>Show older moments</button>`}
  </div>`;
}

function Composer({ onPosted }) {
  const [text, setText] = useState('');
  const [file, setFile] = useState(null);
  const act = useAction();
  const share = (e) => {
    e.preventDefault();
    act.run(async () => {
      const body = { text: text.trim() };
      if (file) body.image = await shrinkPicture(file);
      await post('/v1/moments', body);
      setText('');
      setFile(null);
      e.target.reset();
      onPosted();
    });
  };
  return html`<form class="card" onSubmit=${share} aria-labelledby="compose-title">
    <h2 id="compose-title">Share a moment</h2>
    <${Field} id="moment-text" label="What is happening?" value=${text} onInput=${setText} multiline />
    <div class="field">
      <label for="moment-picture">A picture (optional)</label>
      <input id="moment-picture" type="file" accept="image/jpeg,image/png" onChange=${(e) => setFile(e.currentTarget.files[0] || null)} />
    </div>
    <p class="hint">Only your contacts see your moments. Someone you remove or block cannot read what you share after that, but keeps what they already had. Someone you add later sees what you shared since you last removed or blocked anyone.</p>
    <${ErrorText} error=${act.error} />
    <button type="submit" id="moment-share" disabled=${act.busy || (!text.trim() && !file)}>${act.busy ? 'Sharing…' : 'Share'}</button>
  </form>`;
}

function Moment({ m, onChange }) {
  const [comment, setComment] = useState('');
  const [asking, setAsking] = useState(false);
  const act = useAction();
  const id = esc(m.id);
  const like = () => act.run(async () => { await post('/v1/moments/' + id + '/like', { like: !m.liked }); onChange(); });
  const send = (e) => {
    e.preventDefault();
    act.run(async () => { await post('/v1/moments/' + id + '/comments', { text: comment.trim() }); setComment(''); onChange(); });
  };
  const remove = () => act.run(async () => { setAsking(false); await del('/v1/moments/' + id); onChange(); });
  const who = m.mine ? '#/profile' : '#/person/' + esc(m.by.peer_id);
  return html`<li class=${'card moment' + (m.unread ? ' unread' : '')} aria-labelledby=${'m-' + m.id}>
    <div class="moment-head" id=${'m-' + m.id}>
      <a class="moment-author" href=${who}>${m.by.label}</a>
      <time datetime=${m.time}>${formatTime(m.time)}</time>
      ${m.unread && html`<span class="badge">New</span>`}
    </div>
    ${m.text && html`<p class="moment-text">${m.text}</p>`}
    ${m.image && html`<img class="moment-picture" src=${m.image} alt=${'Picture shared by ' + m.by.label} />`}
    <div class="moment-actions">
      <button type="button" class="secondary like" aria-pressed=${m.liked ? 'true' : 'false'} onClick=${like} disabled=${act.busy}>
        ${m.liked ? '♥ Liked' : '♡ Like'}
      </button>
      <span class="person-note likes">${m.likes > 0 ? plural(m.likes, 'like') + ': ' + m.liked_by.map((p) => p.label).join(', ') : ''}</span>
      ${m.mine && html`<button type="button" class="secondary push" onClick=${() => setAsking(true)}>Delete</button>`}
    </div>
    ${(m.comments || []).length > 0 && html`<ul class="comments" aria-label="Comments">
      ${m.comments.map((c) => html`<li key=${c.id}><span class="comment-author">${c.by.label}</span> ${c.text}</li>`)}
    </ul>`}
    <form class="comment-form" onSubmit=${send}>
      <label class="sr-only" for=${'c-' + m.id}>Comment on this moment</label>
      <input id=${'c-' + m.id} value=${comment} placeholder="Write a comment" maxlength="2048" onInput=${(e) => setComment(e.currentTarget.value)} />
      <button type="submit" class="secondary" disabled=${act.busy || !comment.trim()}>Comment</button>
    </form>
    <${ErrorText} error=${act.error} />
    <${Confirm} open=${asking} title="Delete this moment?" confirmLabel="Delete" danger onConfirm=${remove} onCancel=${() => setAsking(false)}>
      <p>Your contacts' nodes drop it, with its likes and comments, as soon as they hear of it.</p>
    </${Confirm}>
  </li>`;
}
