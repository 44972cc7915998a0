// The wallet: balance, the statement with its running balance, paying
// someone, asking to be paid (link and QR code), paying a pasted request,
// refunds, red envelopes, credit (for guarantors) and fraud alerts.
import { html, useState, useEffect } from './lib.js';
import { get, post, esc } from './api.js';
import { useStore, contactName, personName, personWord, refreshWallet } from './store.js';
import { money, signedMoney, parseAmount, formatTime, entryLabel, lineStatus, accountOfPeer, shortID, plural } from './util.js';
import { Field, CopyText, QR, Confirm, ErrorText, Done, useAction, Section } from './ui.js';

// accountNames maps wallet accounts to the people they belong to.
function accountNames(st) {
  const m = new Map();
  if (st.me) m.set(st.me.public_key, 'You');
  for (const c of st.contacts) {
    const a = accountOfPeer(c.peer_id);
    if (a) m.set(a, contactName(c));
  }
  return m;
}

export function Wallet({ stream }) {
  const st = useStore();
  const [lines, setLines] = useState(null);
  const [frauds, setFrauds] = useState([]);
  const [error, setError] = useState(null);
  const load = async () => {
    try {
      const [l, f] = await Promise.all([get('/v1/wallet/history'), get('/v1/wallet/frauds'), refreshWallet()]);
      setLines(l);
      setFrauds(f);
      setError(null);
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => {
    load();
    let t = null;
    const off = stream.on((ev) => {
      if (ev.type === 'wallet' || ev.type === 'resumed') {
        clearTimeout(t);
        t = setTimeout(load, 200);
      }
    });
    return () => { off(); clearTimeout(t); };
  }, []);

  const w = st.wallet;
  const names = accountNames(st);
  const who = (acct) => (acct ? names.get(acct) || 'Account ' + shortID(acct) : '');
  if (!w) {
    return html`<div class="page"><header class="page-head"><h1>Wallet</h1></header>
      ${error ? html`<${ErrorText} error=${error} />` : html`<p class="note" role="status">Loading your wallet…</p>`}</div>`;
  }
  return html`<div class="page wallet">
    <header class="page-head"><h1>Wallet</h1></header>
    <${ErrorText} error=${error} />
    <section class="card balance" aria-labelledby="balance-title">
      <h2 id="balance-title" class="sr-only">Your balance</h2>
      <p class="big" id="balance"><span class="label">Balance</span> <span class="amount">${money(w.balance, w.unit)}</span></p>
      <p id="spendable">You can pay up to <strong>${money(Math.max(0, w.spendable + w.limit), w.unit)}</strong>${w.limit ? html` now (your credit from the village is ${money(w.limit, w.unit)})` : ''}.</p>
      ${w.unreceipted > 0 && html`<p class="note">${plural(w.unreceipted, 'payment')} to you still being confirmed.</p>`}
      ${w.frozen && html`<p class="error" role="alert">This account is frozen: it was caught spending the same money twice.</p>`}
      ${!w.limit && w.balance <= 0 && html`<p class="hint">To pay before you have been paid, ask a guarantor of the village for credit.</p>`}
    </section>
    <${Frauds} frauds=${frauds} who=${who} me=${w.account} unit=${w.unit} />
    ${w.disagree && w.disagree.length > 0 && html`<section class="card attention" aria-labelledby="disagree-title" id="disagree">
      <h2 id="disagree-title">Your balances differ from some people's</h2>
      <p>${w.disagree.map((d) => personName(d.peer)).join(', ')} ${w.disagree.length === 1 ? 'counts' : 'count'} credit in ${w.unit} by other guarantors than yours, so you and they see different balances. Agree on one set of guarantors: see "The village's unit" below.</p>
    </section>`}
    <div class="columns">
      <${Pay} st=${st} unit=${w.unit} onDone=${load} />
      <${Ask} unit=${w.unit} />
      <${PayRequest} onDone=${load} />
      <${RedEnvelope} st=${st} unit=${w.unit} onDone=${load} />
      ${w.guarantor && html`<${Grant} st=${st} unit=${w.unit} onDone=${load} />`}
    </div>
    <${Statement} lines=${lines} who=${who} me=${w.account} unit=${w.unit} onDone=${load} />
    <${Unit} />
  </div>`;
}

// Unit shows who guarantees credit in the village's unit, the code that
// gives another computer the same unit, and takes such a code.
function Unit() {
  const [u, setU] = useState(null);
  const [code, setCode] = useState('');
  const [done, setDone] = useState('');
  const act = useAction();
  useEffect(() => { act.run(async () => setU(await get('/v1/wallet/unit'))); }, []);
  if (!u) return html`<${ErrorText} error=${act.error} />`;
  const adopt = (e) => {
    e.preventDefault();
    setDone('');
    act.run(async () => {
      const next = await post('/v1/wallet/unit', { code: code.trim() });
      setU(next); setCode('');
      setDone(next.next ? 'Kept. Banyan counts credit this way once it starts again: restart it.' : 'This computer already counts credit this way.');
    });
  };
  const names = (ps) => ps.length ? ps.map(personWord).join(', ') : 'nobody yet';
  return html`<section class="card" aria-labelledby="unit-title">
    <h2 id="unit-title">The village's unit</h2>
    <p>${u.unit}: credit is granted by ${names(u.guarantors)}.</p>
    ${u.next && html`<p class="note">From the next start: ${u.next.unit}, credit granted by ${names(u.next.guarantors)}.</p>`}
    <${CopyText} id="unit-code" label="Give this code to others so that their computers count credit the same way" text=${u.code} />
    <form onSubmit=${adopt}>
      <${Field} id="unit-adopt" label="Use someone else's unit: paste their code" value=${code} onInput=${setCode} />
      <${ErrorText} error=${act.error} />
      <${Done} text=${done} />
      <button type="submit" class="secondary" disabled=${act.busy || !code.trim()}>Use this unit</button>
    </form>
  </section>`;
}

function Frauds({ frauds, who, me, unit }) {
  if (!frauds.length) return null;
  return html`<section class="card attention" aria-labelledby="fraud-title">
    <h2 id="fraud-title">Warning: money spent twice</h2>
    <ul class="frauds">${frauds.map((f) => {
      const mine = (f.affected || []).find((a) => a.account === me);
      return html`<li key=${f.account}>
        <p><strong>${f.person ? personName(f.person) : who(f.account)}</strong> spent the same money twice. Their account is frozen${f.shortfall ? html`; ${money(f.shortfall, unit)} is not covered` : ''}.</p>
        ${mine && html`<p class="error">You are affected: ${money(mine.amount, unit)} you received from them may not be worth anything.</p>`}
        ${(f.affected || []).length > 0 && html`<p>Who received money from them after that:</p>
          <ul>${f.affected.map((a) => html`<li key=${a.account}>${who(a.account)}: ${money(a.amount, unit)}</li>`)}</ul>`}
      </li>`;
    })}</ul>
  </section>`;
}

// PersonPicker chooses a contact, or takes a pasted ID.
function PersonPicker({ st, id, label, value, onInput }) {
  const people = st.contacts.filter((c) => c.state === 'accepted');
  const [other, setOther] = useState(people.length === 0);
  return html`<div class="field">
    <label for=${id}>${label}</label>
    ${!other ? html`<select id=${id} value=${value} onChange=${(e) => { if (e.currentTarget.value === '*') { setOther(true); onInput(''); } else onInput(e.currentTarget.value); }}>
        <option value="">Choose a person</option>
        ${people.map((c) => html`<option key=${c.peer_id} value=${c.peer_id}>${contactName(c)}</option>`)}
        <option value="*">Someone else (paste their ID)</option>
      </select>`
      : html`<input id=${id} value=${value} onInput=${(e) => onInput(e.currentTarget.value.trim())} placeholder="12D3KooW…" autocomplete="off" />`}
  </div>`;
}

function Pay({ st, unit, onDone }) {
  const [to, setTo] = useState('');
  const [amount, setAmount] = useState('');
  const [memo, setMemo] = useState('');
  const [confirm, setConfirm] = useState(false);
  const [done, setDone] = useState('');
  const act = useAction();
  const n = parseAmount(amount);
  const c = st.contacts.find((c) => c.peer_id === to);
  const name = c ? contactName(c) : shortID(to);
  const ask = (e) => {
    e.preventDefault();
    setDone('');
    if (!to) return act.setError(new Error('Choose whom to pay.'));
    if (n === null) return act.setError(new Error('Type the amount as a whole number, for example 250.'));
    act.setError(null);
    setConfirm(true);
  };
  const pay = () => act.run(async () => {
    setConfirm(false);
    const e = await post('/v1/wallet/pay', { to, amount: n, memo: memo.trim() });
    if (e.status === 'invalid' || e.status === 'void') throw new Error('The payment was refused: ' + (e.reason || e.status) + '.');
    setAmount(''); setMemo('');
    setDone(`Paid ${money(n, unit)} to ${name}.`);
    onDone();
  });
  return html`<form class="card" onSubmit=${ask} aria-labelledby="pay-title">
    <h2 id="pay-title">Pay someone</h2>
    <${PersonPicker} st=${st} id="pay-to" label="Pay to" value=${to} onInput=${setTo} />
    <${Field} id="pay-amount" label=${'Amount (' + unit + ')'} value=${amount} onInput=${setAmount} inputmode="numeric" required />
    <${Field} id="pay-memo" label="What it is for (optional)" value=${memo} onInput=${setMemo} maxlength="200" />
    <${ErrorText} error=${act.error} />
    <${Done} text=${done} />
    <button type="submit" disabled=${act.busy}>Pay</button>
    <${Confirm} open=${confirm} title="Pay now?" confirmLabel=${'Pay ' + money(n || 0, unit)} onConfirm=${pay} onCancel=${() => setConfirm(false)}>
      <p>Pay <strong>${money(n || 0, unit)}</strong> to <strong>${name}</strong>${memo.trim() ? ` for “${memo.trim()}”` : ''}? A payment cannot be taken back; they can refund it.</p>
    </${Confirm}>
  </form>`;
}

function Ask({ unit }) {
  const [amount, setAmount] = useState('');
  const [memo, setMemo] = useState('');
  const [req, setReq] = useState(null);
  const act = useAction();
  const make = (e) => {
    e.preventDefault();
    const n = parseAmount(amount);
    if (n === null) return act.setError(new Error('Type the amount as a whole number, for example 1200.'));
    act.run(async () => setReq(await post('/v1/wallet/requests', { amount: n, memo: memo.trim() })));
  };
  return html`<form class="card" onSubmit=${make} aria-labelledby="ask-title">
    <h2 id="ask-title">Ask to be paid</h2>
    <${Field} id="ask-amount" label=${'Amount (' + unit + ')'} value=${amount} onInput=${setAmount} inputmode="numeric" required />
    <${Field} id="ask-memo" label="What it is for (optional)" value=${memo} onInput=${setMemo} maxlength="200" />
    <${ErrorText} error=${act.error} />
    <button type="submit" disabled=${act.busy}>Make a payment request</button>
    ${req && html`<div class="invite" id="request-result">
      <p role="status">Show this QR code or send the link. It can be paid once, until ${formatTime(req.expires)}.</p>
      <${QR} src=${'/v1/wallet/requests/qr.png?link=' + esc(req.link)} alt=${'QR code asking for ' + money(req.amount, req.unit)} />
      <${CopyText} id="request-link" label=${'Payment request for ' + money(req.amount, req.unit)} text=${req.link} />
    </div>`}
  </form>`;
}

function PayRequest({ onDone }) {
  const [link, setLink] = useState('');
  const [confirm, setConfirm] = useState(false);
  const [done, setDone] = useState('');
  const act = useAction();
  const pay = () => act.run(async () => {
    setConfirm(false);
    const e = await post('/v1/wallet/pay-request', { link: link.trim() });
    if (e.status === 'invalid' || e.status === 'void') throw new Error('The payment was refused: ' + (e.reason || e.status) + '.');
    setLink('');
    setDone(`Paid ${money(e.amount)}.`);
    onDone();
  });
  return html`<form class="card" onSubmit=${(e) => { e.preventDefault(); setDone(''); setConfirm(true); }} aria-labelledby="payreq-title">
    <h2 id="payreq-title">Pay a request</h2>
    <${Field} id="payreq-link" label="Payment request link" value=${link} onInput=${setLink} required multiline
      hint="Paste the link you were sent. It starts with banyan:pay1." />
    <${ErrorText} error=${act.error} />
    <${Done} text=${done} />
    <button type="submit" disabled=${act.busy || !link.trim()}>Pay this request</button>
    <${Confirm} open=${confirm} title="Pay this request?" confirmLabel="Pay" onConfirm=${pay} onCancel=${() => setConfirm(false)}>
      <p>The amount written in the request will be paid to whoever made it. A request can be paid only once.</p>
    </${Confirm}>
  </form>`;
}

function RedEnvelope({ st, unit, onDone }) {
  const [group, setGroup] = useState('');
  const [total, setTotal] = useState('');
  const [shares, setShares] = useState('');
  const [done, setDone] = useState('');
  const act = useAction();
  const send = (e) => {
    e.preventDefault();
    setDone('');
    const t = parseAmount(total), n = parseAmount(shares);
    if (!group) return act.setError(new Error('Choose a group.'));
    if (t === null || n === null) return act.setError(new Error('Type the total and the number of shares as whole numbers.'));
    act.run(async () => {
      const e = await post('/v1/wallet/envelopes', { group, total: t, count: n });
      if (e.status === 'invalid' || e.status === 'void') throw new Error('The red envelope was refused: ' + (e.reason || e.status) + '.');
      setTotal(''); setShares('');
      setDone(`Sent a red envelope of ${money(t, unit)} in ${plural(n, 'share')}. Shares not claimed within a day come back to you.`);
      onDone();
    });
  };
  return html`<form class="card" onSubmit=${send} aria-labelledby="env-title">
    <h2 id="env-title">Send a red envelope</h2>
    <p class="hint">Money for a group: each member who claims gets a random share.</p>
    <div class="field"><label for="env-group">Group</label>
      <select id="env-group" value=${group} onChange=${(e) => setGroup(e.currentTarget.value)}>
        <option value="">Choose a group</option>
        ${st.groups.map((g) => html`<option key=${g.id} value=${g.id}>${g.name}</option>`)}
      </select></div>
    <${Field} id="env-total" label=${'Total (' + unit + ')'} value=${total} onInput=${setTotal} inputmode="numeric" required />
    <${Field} id="env-shares" label="Number of shares" value=${shares} onInput=${setShares} inputmode="numeric" required />
    <${ErrorText} error=${act.error} />
    <${Done} text=${done} />
    <button type="submit" disabled=${act.busy}>Send red envelope</button>
  </form>`;
}

function Grant({ st, unit, onDone }) {
  const [who, setWho] = useState('');
  const [limit, setLimit] = useState('');
  const [done, setDone] = useState('');
  const act = useAction();
  const grant = (e) => {
    e.preventDefault();
    setDone('');
    const n = String(limit).trim() === '0' ? 0 : parseAmount(limit);
    if (!who) return act.setError(new Error('Choose whom to give credit to.'));
    if (n === null) return act.setError(new Error('Type the credit as a whole number (0 takes it away).'));
    act.run(async () => {
      await post('/v1/wallet/limits', { account: who, limit: n });
      setLimit('');
      setDone(`Credit set to ${money(n, unit)}.`);
      onDone();
    });
  };
  return html`<form class="card" onSubmit=${grant} aria-labelledby="grant-title">
    <h2 id="grant-title">Give credit (guarantor)</h2>
    <p class="hint">You are a guarantor of this village's money: the credit you give lets people pay before they have been paid.</p>
    <${PersonPicker} st=${st} id="grant-to" label="Give credit to" value=${who} onInput=${setWho} />
    <${Field} id="grant-limit" label=${'Credit (' + unit + ')'} value=${limit} onInput=${setLimit} inputmode="numeric" required />
    <${ErrorText} error=${act.error} />
    <${Done} text=${done} />
    <button type="submit" disabled=${act.busy}>Set credit</button>
  </form>`;
}

const SHORT_STATEMENT = 20;

function Statement({ lines, who, me, unit, onDone }) {
  const [all, setAll] = useState(false);
  const shown = lines ? (all ? lines : lines.slice(-SHORT_STATEMENT)) : [];
  return html`<section class="card" aria-labelledby="statement-title">
    <div class="list-head">
      <h2 id="statement-title">Statement</h2>
      <a class="button secondary" href="/v1/wallet/history?csv=1" download="banyan-statement.csv">Download (CSV)</a>
    </div>
    ${lines === null ? html`<p>Loading…</p>` : lines.length === 0 ? html`<p class="empty">Nothing yet.</p>` : html`
    <table class="statement">
      <thead><tr><th scope="col">When</th><th scope="col">What</th><th scope="col">Who</th><th scope="col" class="num">Amount</th><th scope="col" class="num">Balance</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>${shown.slice().reverse().map((l) => html`<${Line} key=${l.entry} l=${l} who=${who} me=${me} unit=${unit} onDone=${onDone} />`)}</tbody>
    </table>
    ${!all && lines.length > SHORT_STATEMENT && html`<button type="button" class="secondary" onClick=${() => setAll(true)}>Show all ${lines.length} lines</button>`}`}
  </section>`;
}

function Line({ l, who, me, unit, onDone }) {
  const [confirm, setConfirm] = useState(false);
  const act = useAction();
  const incoming = l.type === 'pay' && l.author !== me && l.amount > 0 && l.status === 'ok';
  const other = l.author === me ? l.counterparty : l.author;
  const status = l.type === 'claim' && !l.amount && l.status === 'ok' ? 'your share arrives when the sender’s computer shares the envelope out' : lineStatus(l);
  const refund = () => act.run(async () => {
    setConfirm(false);
    const e = await post('/v1/wallet/refund', { entry: l.entry });
    if (e.status === 'invalid' || e.status === 'void') throw new Error('The refund was refused: ' + (e.reason || e.status) + '.');
    onDone();
  });
  // A red envelope of one's own is to a group, not to a person.
  const whoName = l.type === 'envelope' || l.type === 'settle' && l.author === me ? '' : l.with ? personName(l.with) : l.type === 'limit' && l.author !== me ? who(l.author) : who(other);
  return html`<tr class=${l.status !== 'ok' ? 'muted' : ''}>
    <td data-label="When"><time datetime=${l.time}>${formatTime(l.time)}</time></td>
    <td data-label="What">${entryLabel(l, me)}${l.memo && html`<span class="memo">“${l.memo}”</span>`}${status && html`<span class="memo">${status}</span>`}</td>
    <td data-label="Who">${whoName}</td>
    <td data-label="Amount" class=${'num ' + (l.amount > 0 ? 'plus' : l.amount < 0 ? 'minus' : '')}>${l.amount ? signedMoney(l.amount) : '—'}</td>
    <td data-label="Balance" class="num">${money(l.balance)}</td>
    <td class="act">${incoming && html`<button type="button" class="secondary small" onClick=${() => setConfirm(true)} aria-label=${'Refund ' + money(l.amount, unit) + ' to ' + who(l.author)}>Refund</button>`}
      <${ErrorText} error=${act.error} />
      <${Confirm} open=${confirm} title="Refund this payment?" confirmLabel="Refund" onConfirm=${refund} onCancel=${() => setConfirm(false)}>
        <p>Give back what is left of the ${money(l.amount, unit)} that ${who(l.author)} paid you${l.memo ? ` for “${l.memo}”` : ''}.</p>
      </${Confirm}>
    </td>
  </tr>`;
}
