// A group's shared lists: to-do and shopping lists that every member edits,
// also offline. Ticks, moves and removals go to the node, which merges them
// with everyone else's; the list is read again whenever one arrives.
import { html, useState, useEffect } from './lib.js';
import { get, post, request, del, esc } from './api.js';
import { useStore } from './store.js';
import { ErrorText, useAction, Section, Confirm } from './ui.js';

const base = (g) => `/v1/groups/${esc(g)}/lists`;

export function GroupLists({ id, stream }) {
  const st = useStore();
  const g = st.groups.find((g) => g.id === id);
  const [lists, setLists] = useState(null);
  const load = useAction();
  const reload = () => load.run(async () => setLists(await get(base(id))));
  useEffect(() => {
    reload();
    return stream.on((ev) => { if (ev.list && ev.list.group_id === id) reload(); });
  }, [id]);
  return html`<div class="page">
    <header class="page-head">
      <a class="back" href=${'#/group/' + id} aria-label="Back to the group">‹</a>
      <h1>Lists${g ? ' in ' + g.name : ''}</h1>
    </header>
    <p class="hint">Everyone in the group can add, tick and reorder items, also without a connection; changes meet when computers do.</p>
    <${ErrorText} error=${load.error} />
    ${lists && lists.length === 0 && html`<p class="empty" id="no-lists">No lists yet.</p>`}
    ${lists && lists.map((l) => html`<${OneList} key=${l.id} group=${id} list=${l} onChange=${setList(setLists)} />`)}
    <${NewList} group=${id} onCreated=${reload} />
  </div>`;
}

// setList replaces one list in the shown lists with the node's answer.
const setList = (setLists) => (l) => setLists((ls) => (ls || []).map((x) => (x.id === l.id ? l : x)));

function OneList({ group, list, onChange }) {
  const act = useAction();
  const path = `${base(group)}/${esc(list.id)}`;
  const edit = (item, body) => act.run(async () => onChange(await request('PATCH', `${path}/items/${esc(item.id)}`, body)));
  // The field is left to the browser and read on submit, so that edits
  // arriving meanwhile never touch what is being typed.
  const add = (e) => {
    e.preventDefault();
    const field = e.currentTarget.elements.text;
    const t = field.value;
    if (!t.trim()) return;
    field.value = '';
    act.run(async () => {
      try { onChange(await post(`${path}/items`, { text: t })); } catch (err) { field.value = t; throw err; }
    });
  };
  const n = list.items.length;
  const titleID = 'list-' + list.id;
  return html`<${Section} title=${list.title} id=${titleID} className=${'shared-list ' + list.kind}>
    <p class="hint">${list.kind === 'shopping' ? 'Shopping list' : 'To-do list'} · ${n === 0 ? 'empty' : n + (n === 1 ? ' item' : ' items') + ', ' + list.items.filter((i) => i.done).length + ' done'}</p>
    <ul class="items" aria-labelledby=${titleID}>
      ${list.items.map((it, i) => html`<${ItemRow} key=${it.id} it=${it} first=${i === 0} last=${i === n - 1} busy=${act.busy}
        onEdit=${(body) => edit(it, body)} onMove=${(d) => edit(it, { position: i + 1 + d })}
        onRemove=${() => act.run(async () => onChange(await del(`${path}/items/${esc(it.id)}`)))} />`)}
    </ul>
    <form class="inline-form add-item" onSubmit=${add}>
      <div class="field"><label for=${'add-' + list.id}>Add to ${list.title}</label>
        <input id=${'add-' + list.id} name="text" maxlength="1024" /></div>
      <button type="submit" disabled=${act.busy}>Add</button>
    </form>
    <${ErrorText} error=${act.error} />
  </${Section}>`;
}

// ItemRow is one item: its tick box and text, or, while editing, a field
// for its text; and buttons to edit, move and remove it.
function ItemRow({ it, first, last, busy, onEdit, onMove, onRemove }) {
  const [editing, setEditing] = useState(false);
  // Removing is for everyone in the group, and has no undo: asked first.
  const [confirm, setConfirm] = useState(false);
  const save = (e) => {
    e.preventDefault();
    const t = e.currentTarget.elements.text.value;
    setEditing(false);
    if (t.trim() && t !== it.text) onEdit({ text: t });
  };
  return html`<li class=${'item' + (it.done ? ' ticked' : '')} data-id=${it.id}>
    ${editing
      ? html`<form class="inline-form edit-item" onSubmit=${save}>
          <div class="field"><label for=${'edit-' + it.id}>New text</label>
            <input id=${'edit-' + it.id} name="text" maxlength="1024" value=${it.text} /></div>
          <button type="submit" class="small">Save</button>
          <button type="button" class="secondary small" onClick=${() => setEditing(false)}>Cancel</button>
        </form>`
      : html`<label class="choice">
          <input type="checkbox" checked=${it.done} onChange=${(e) => onEdit({ done: e.currentTarget.checked })} />
          <span class="item-text">${it.text}</span>
        </label>
        <span class="item-actions">
          <button type="button" class="secondary small edit" aria-label=${'Edit ' + it.text} onClick=${() => setEditing(true)}>✎</button>
          <button type="button" class="secondary small up" disabled=${first || busy} aria-label=${'Move ' + it.text + ' up'} onClick=${() => onMove(-1)}>↑</button>
          <button type="button" class="secondary small down" disabled=${last || busy} aria-label=${'Move ' + it.text + ' down'} onClick=${() => onMove(1)}>↓</button>
          <button type="button" class="secondary small remove" aria-label=${'Remove ' + it.text} onClick=${() => setConfirm(true)}>✕</button>
        </span>
        <${Confirm} open=${confirm} title="Remove this item?" confirmLabel="Remove" danger
          onConfirm=${() => { setConfirm(false); onRemove(); }} onCancel=${() => setConfirm(false)}>
          <p>“${it.text}” goes off the list for everyone in the group.</p>
        </${Confirm}>`}
  </li>`;
}

function NewList({ group, onCreated }) {
  const [title, setTitle] = useState('');
  const [kind, setKind] = useState('shopping');
  const act = useAction();
  const create = (e) => {
    e.preventDefault();
    act.run(async () => { await post(base(group), { title, kind }); setTitle(''); onCreated(); });
  };
  return html`<form class="card" onSubmit=${create} aria-labelledby="new-list">
    <h2 id="new-list">New list</h2>
    <div class="field"><label for="list-title">Title</label>
      <input id="list-title" value=${title} maxlength="128" required onInput=${(e) => setTitle(e.currentTarget.value)} /></div>
    <fieldset>
      <legend>Kind</legend>
      ${[['shopping', 'Shopping list'], ['todo', 'To-do list']].map(([v, label]) => html`<label class="choice" key=${v}>
        <input type="radio" name="list-kind" value=${v} checked=${kind === v} onChange=${() => setKind(v)} /> ${label}
      </label>`)}
    </fieldset>
    <${ErrorText} error=${act.error} />
    <button type="submit" disabled=${act.busy}>Create list</button>
  </form>`;
}
