// This computer: who it is on the network, the computers it is connected
// to, how complete each group's history is, what it received, the space
// it uses, and the settings a person may change.
import { html, useState, useEffect } from './lib.js';
import { get, put, del } from './api.js';
import { useStore, refreshGroups, nameOf } from './store.js';
import { bytesLabel, count, plural } from './util.js';
import { CopyText, Done, ErrorText, Field, Section, useAction } from './ui.js';

export function NodeInfo({ stream }) {
  const st = useStore();
  const [node, setNode] = useState(null);
  const [peers, setPeers] = useState([]);
  const [error, setError] = useState(null);
  const load = async () => {
    try {
      const [n, p] = await Promise.all([get('/v1/node'), get('/v1/peers'), refreshGroups()]);
      setNode(n); setPeers(p); setError(null);
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => {
    load();
    const t = setInterval(() => { if (!document.hidden) load(); }, 5000);
    return () => clearInterval(t);
  }, []);
  // A copy of what is already here is no one's fault: not "refused".
  const all = node ? node.stats.rejected || {} : {};
  const rejected = Object.entries(all).filter(([why]) => why !== 'duplicate');
  const totalRejected = rejected.reduce((a, [, n]) => a + n, 0);
  const already = all.duplicate || 0;
  const signOut = async () => {
    try { await del('/v1/session'); } catch (e) { /* signed out either way */ }
    location.hash = '';
    location.reload();
  };
  return html`<div class="page">
    <header class="page-head"><h1>This computer</h1></header>
    <${ErrorText} error=${error} />
    ${node && html`<${Section} title="On the network" id="net-title">
      <dl class="facts">
        <dt>This page</dt><dd>${st.stream === 'live' ? 'Up to date with Banyan on this computer' : 'Reconnecting to Banyan on this computer…'}</dd>
        <dt>Computers reached</dt><dd id="peer-count">${count(peers.length)}</dd>
        <dt>Banyan version</dt><dd>${node.version}</dd>
        <dt>Wallet unit</dt><dd>${st.wallet ? st.wallet.unit : ''}</dd>
        <dt>Messages received from others</dt><dd>${count(node.stats.accepted)} accepted, ${count(totalRejected)} refused${already ? `, ${count(already)} already here` : ''}</dd>
      </dl>
      <${CopyText} id="peer-id" label="This computer's ID" text=${node.peer_id} />
      ${rejected.length > 0 && html`<details><summary>Why messages were refused</summary>
        <ul>${rejected.map(([why, n]) => html`<li key=${why}>${why}: ${count(n)}</li>`)}</ul></details>`}
      <details><summary>Network addresses</summary>
        <ul class="mono">${node.addrs.map((a) => html`<li key=${a}>${a}</li>`)}</ul></details>
    </${Section}>`}
    <${Section} title="Connected computers" id="peers-title">
      ${peers.length === 0 ? html`<p class="empty">None right now. Messages wait on this computer until someone is reachable.</p>`
        : html`<ul class="people">${peers.map((p) => html`<li key=${p.peer_id} class="person">
            <span class="person-name">${nameOf(p.peer_id, p.person)}</span>
            <span class="person-note">${p.latency ? 'answers in ' + p.latency : ''}</span>
          </li>`)}</ul>`}
    </${Section}>
    <${Section} title="Groups on this computer" id="sync-title">
      ${st.groups.length === 0 ? html`<p class="empty">No groups.</p>` : html`<ul class="people">${st.groups.map((g) => html`<li key=${g.id} class="person">
        <span class="person-name">${g.name}</span>
        <span class="person-note">${plural(g.messages, 'message')}${g.catching_up ? `, catching up: ${count(g.catching_up.received)} of ${count(g.catching_up.expected)}` : ''}${g.missing ? `, ${plural(g.missing, 'message')} not here yet` : ', complete'}</span>
      </li>`)}</ul>`}
    </${Section}>
    ${node && html`<${Section} title="Space on this computer" id="storage-title">
      <dl class="facts">
        <dt>History and wallet</dt><dd id="store-bytes">${bytesLabel(node.storage.store_bytes)}</dd>
        <dt>Sealed private messages</dt><dd>${bytesLabel(node.storage.mailbox_bytes)}, yours and those carried for others</dd>
        <dt>Kept in</dt><dd class="mono">${node.storage.dir}</dd>
      </dl>
      <p>How long each group's history is kept is chosen on the group's page.</p>
    </${Section}>`}
    <${Settings} />
    <${Section} title="This browser" id="browser-title">
      <button type="button" class="secondary" onClick=${signOut}>Sign out of this browser</button>
    </${Section}>
  </div>`;
}

// Settings are what a person may change while Banyan runs. A setting
// given as an option when Banyan started cannot be changed here, and says
// where it was set.
function Settings() {
  const [cur, setCur] = useState(null);
  const [name, setName] = useState('');
  const [receipts, setReceipts] = useState(true);
  const [carry, setCarry] = useState(true);
  const [done, setDone] = useState('');
  const act = useAction();
  const show = (s) => { setCur(s); setName(s.name); setReceipts(s.read_receipts); setCarry(s.carry_mail); };
  useEffect(() => { act.run(async () => show(await get('/v1/settings'))); }, []);
  if (!cur) return html`<${Section} title="Settings" id="settings-title"><${ErrorText} error=${act.error} /></${Section}>`;
  const fixed = cur.fixed || {};
  const save = (e) => {
    e.preventDefault();
    setDone('');
    act.run(async () => {
      const change = {};
      if (name.trim() !== cur.name && !fixed.name) change.name = name.trim();
      if (receipts !== cur.read_receipts && !fixed.read_receipts) change.read_receipts = receipts;
      if (carry !== cur.carry_mail && !fixed.carry_mail) change.carry_mail = carry;
      const s = await put('/v1/settings', change);
      show(s);
      setDone(s.carry_mail !== s.carrying_mail ? 'Saved. Carrying mail changes when Banyan starts again.' : 'Saved.');
    });
  };
  const setBy = (key) => fixed[key] && html`<p class="hint">Set by ${fixed[key]} when Banyan was started, so it cannot be changed here.</p>`;
  return html`<form class="card" onSubmit=${save} aria-labelledby="settings-title">
    <h2 id="settings-title">Settings</h2>
    <${Field} id="my-name" label="Your name" hint="The name others see when you add them or they add you." value=${name}
      onInput=${setName} disabled=${!!fixed.name} maxlength="64" />
    ${setBy('name')}
    <label class="choice"><input type="checkbox" id="read-receipts" checked=${receipts} disabled=${!!fixed.read_receipts}
      onChange=${(e) => setReceipts(e.currentTarget.checked)} /> Tell people you write with when you have read their messages</label>
    ${setBy('read_receipts')}
    <label class="choice"><input type="checkbox" id="carry-mail" checked=${carry} disabled=${!!fixed.carry_mail}
      onChange=${(e) => setCarry(e.currentTarget.checked)} /> Carry other people's sealed private messages, to pass them on (this computer cannot read them)</label>
    ${setBy('carry_mail')}
    ${cur.carry_mail !== cur.carrying_mail && html`<p class="hint">Carrying mail is ${cur.carrying_mail ? 'on' : 'off'} until Banyan starts again.</p>`}
    <${ErrorText} error=${act.error} />
    <${Done} text=${done} />
    <button type="submit" disabled=${act.busy}>Save settings</button>
  </form>`;
}
