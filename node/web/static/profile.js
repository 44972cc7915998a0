// Profile: what contacts see of the user (name, bio, place, avatar), and
// a contact's profile. Text from the network is shown as text, never HTML.
import { html, useState, useEffect } from './lib.js';
import { get, put, esc } from './api.js';
import { Field, ErrorText, Done, useAction, Section } from './ui.js';
import { shrinkPicture } from './picture.js';
import { initial, shortID } from './util.js';
import { useStore } from './store.js';

export function Profile({ person, stream }) {
  return person ? html`<${TheirProfile} person=${person} stream=${stream} />` : html`<${MyProfile} />`;
}

function Avatar({ p }) {
  if (!p || !p.avatar) {
    return html`<span class="portrait" aria-hidden="true">${initial(p && (p.name || (p.person && p.person.label)))}</span>`;
  }
  return html`<img class="portrait" src=${p.avatar} alt=${'Avatar of ' + p.person.label} width="96" height="96" />`;
}

function MyProfile() {
  const [p, setP] = useState(null);
  const [name, setName] = useState('');
  const [bio, setBio] = useState('');
  const [place, setPlace] = useState('');
  const [done, setDone] = useState('');
  const load = useAction();
  const save = useAction();
  const fill = (x) => { setP(x); setName(x.name || ''); setBio(x.bio || ''); setPlace(x.place || ''); };
  useEffect(() => { load.run(async () => fill(await get('/v1/profile'))); }, []);
  const submit = (e) => {
    e.preventDefault();
    setDone('');
    save.run(async () => {
      fill(await put('/v1/profile', { name, bio, place }));
      setDone('Saved. Your contacts get it as soon as they are connected.');
    });
  };
  const pick = (e) => {
    const f = e.currentTarget.files[0];
    if (!f) return;
    setDone('');
    save.run(async () => {
      fill(await put('/v1/profile', { avatar: await shrinkPicture(f) }));
      setDone('Avatar saved.');
    });
  };
  const remove = () => save.run(async () => fill(await put('/v1/profile', { remove_avatar: true })));
  const nearby = (e) => {
    const on = e.currentTarget.checked;
    save.run(async () => fill(await put('/v1/profile', { public: on })));
  };
  return html`<div class="page">
    <header class="page-head"><a href="#/moments" class="back" aria-label="Back to moments">‹</a><h1>Your profile</h1></header>
    <${ErrorText} error=${load.error} />
    <${Section} title="What your contacts see" id="profile-title">
      <div class="profile-head">
        <${Avatar} p=${p} />
        <div>
          <p class="profile-name" id="profile-shown">${p && p.name ? p.name : 'No name yet'}</p>
          ${p && p.place && html`<p class="person-note">${p.place}</p>`}
          <div class="actions">
            <label class="button secondary" for="avatar-file">Choose an avatar</label>
            <input id="avatar-file" class="sr-only" type="file" accept="image/jpeg,image/png" onChange=${pick} />
            ${p && p.avatar && html`<button type="button" class="secondary" onClick=${remove}>Remove avatar</button>`}
          </div>
        </div>
      </div>
      <form onSubmit=${submit}>
        <${Field} id="profile-name" label="Your name" value=${name} onInput=${setName} maxlength="64" />
        <${Field} id="profile-place" label="Your place (village, shop)" value=${place} onInput=${setPlace} maxlength="128" />
        <${Field} id="profile-bio" label="About you" value=${bio} onInput=${setBio} multiline maxlength="512" />
        <label class="choice">
          <input type="checkbox" id="profile-public" checked=${!!(p && p.public)} onChange=${nearby} />
          Show my name and avatar to people nearby who are not my contacts
        </label>
        <p class="hint">Only your contacts can read your bio and place. Your name and avatar are not secret: anyone who has your ID can ask for them, and people nearby see them if you tick the box. Someone you remove cannot read what you change after that. Contacts see you by the name they gave you, or else by this one, marked with ~ because you chose it.</p>
        <${ErrorText} error=${save.error} />
        <${Done} text=${done} />
        <button type="submit" id="profile-save" disabled=${save.busy}>${save.busy ? 'Saving…' : 'Save profile'}</button>
      </form>
    </${Section}>
  </div>`;
}

function TheirProfile({ person, stream }) {
  const st = useStore();
  const contact = st.contacts.some((c) => c.peer_id === person && c.state === 'accepted');
  const [p, setP] = useState(null);
  const load = useAction();
  const refresh = () => load.run(async () => setP(await get('/v1/profiles/' + esc(person))));
  useEffect(() => {
    refresh();
    return stream.on((ev) => { if (ev.profile && ev.profile.peer_id === person) setP(ev.profile); });
  }, [person]);
  return html`<div class="page">
    <header class="page-head"><a href="#/moments" class="back" aria-label="Back to moments">‹</a><h1>${p ? p.person.label : 'Profile'}</h1></header>
    <${ErrorText} error=${load.error} />
    ${p && html`<${Section} title="Profile" id="their-profile-title">
      <div class="profile-head">
        <${Avatar} p=${p} />
        <div>
          <p class="profile-name">${p.name || 'No profile yet'}</p>
          ${p.place && html`<p class="person-note">${p.place}</p>`}
          ${p.nearby && html`<p class="person-note">Not a contact: this is what they show people nearby.</p>`}
          <p class="person-note">${shortID(p.peer_id)}</p>
        </div>
      </div>
      ${contact && html`<div class="actions"><a class="button" href=${'#/chat/d/' + person}>Write</a></div>`}
      ${p.bio && html`<p class="profile-bio">${p.bio}</p>`}
      ${p.person.unverified && html`<p class="hint">~ means they chose this name themselves. Give them a nickname on the People screen.</p>`}
    </${Section}>`}
  </div>`;
}
