// This computer: who it is on the network, the computers it is connected
// to, how complete each group's history is, what it received, and the
// settings that are chosen when the node starts.
import { html, useState, useEffect } from './lib.js';
import { get, del } from './api.js';
import { useStore, refreshGroups, nameOf } from './store.js';
import { count, plural } from './util.js';
import { CopyText, ErrorText, Section } from './ui.js';

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
  const rejected = node ? Object.entries(node.stats.rejected || {}) : [];
  const totalRejected = rejected.reduce((a, [, n]) => a + n, 0);
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
        <dt>Connection</dt><dd>${st.stream === 'live' ? 'Connected to your node' : 'Reconnecting to your node…'}</dd>
        <dt>Connected computers</dt><dd id="peer-count">${count(peers.length)}</dd>
        <dt>Banyan version</dt><dd>${node.version}</dd>
        <dt>Messages received from others</dt><dd>${count(node.stats.accepted)} accepted, ${count(totalRejected)} refused</dd>
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
    <${Section} title="Settings" id="settings-title">
      <p>These are chosen when Banyan starts on this computer. To change one, stop Banyan and start it again with the option shown.</p>
      <dl class="facts">
        <dt>Your name</dt><dd>The name others see when you add them: <code>banyan run --name "Your name"</code></dd>
        <dt>Read receipts</dt><dd>On unless started with <code>--no-read-receipts</code>: people you write with can see when you have read their messages.</dd>
        <dt>Carrying mail for others</dt><dd>On unless started with <code>--no-carry-mail</code>: this computer keeps other people’s sealed private messages for a while, to pass them on. It cannot read them.</dd>
        <dt>Wallet unit</dt><dd>${st.wallet ? st.wallet.unit : ''} (<code>--wallet-unit</code>)</dd>
      </dl>
      <button type="button" class="secondary" onClick=${signOut}>Sign out of this browser</button>
    </${Section}>
  </div>`;
}
