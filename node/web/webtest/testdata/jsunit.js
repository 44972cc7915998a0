// Unit tests of the UI's pure logic, run in the browser by TestJSUnit. The
// results go to window.results as [{name, ok, detail}].
import * as u from '/ui/util.js';
import { messageOf } from '/ui/api.js';

const results = [];
function test(name, f) {
  try {
    f();
    results.push({ name, ok: true });
  } catch (e) {
    results.push({ name, ok: false, detail: String(e && e.stack || e) });
  }
}
function eq(got, want, what = '') {
  const g = JSON.stringify(got), w = JSON.stringify(want);
  if (g !== w) throw new Error(`${what} got ${g}, want ${w}`);
}

test('formatTime', () => {
  const now = new Date(2026, 10, 24, 15, 30); // Tue 24 Nov 2026
  eq(u.formatTime(new Date(2026, 10, 24, 9, 5), now), '09:05', 'today');
  eq(u.formatTime(new Date(2026, 10, 23, 22, 0), now), 'yesterday 22:00');
  eq(u.formatTime(new Date(2026, 10, 20, 8, 0), now), 'Fri 08:00', 'this week');
  eq(u.formatTime(new Date(2026, 2, 3, 8, 0), now), '3 Mar', 'this year');
  eq(u.formatTime(new Date(2025, 11, 31, 8, 0), now), '31 Dec 2025', 'last year');
  eq(u.formatTime('not a time', now), '');
  eq(u.formatDay(new Date(2026, 10, 24, 1), now), 'Today');
  eq(u.formatDay(new Date(2026, 10, 23, 1), now), 'Yesterday');
  eq(u.formatDay(new Date(2026, 10, 1, 1), now), 'Sunday 1 November');
  eq(u.formatWhen(new Date(2026, 11, 4, 21, 40), now), 'Fri 4 Dec, 21:40', 'an event this year');
  eq(u.formatWhen(new Date(2027, 0, 2, 9, 5), now), 'Sat 2 Jan 2027, 09:05', 'next year');
  eq(u.formatWhen('not a time', now), '');
});

test('initial', () => {
  eq(u.initial('amina'), 'A');
  eq(u.initial('~bo'), 'B', 'a chosen name');
  eq(u.initial(''), '?');
  eq(u.initial('~'), '?');
  eq(u.initial(undefined), '?');
});

test('statusLabel', () => {
  eq(u.statusLabel({ status: 'stored' }), 'Only on this computer so far');
  eq(u.statusLabel({ status: 'held', held_by: 1 }), 'Held by 1 other computer');
  eq(u.statusLabel({ status: 'held', held_by: 3 }), 'Held by 3 other computers');
  eq(u.statusLabel({ status: 'delivered' }), 'Delivered');
  eq(u.statusLabel({ status: 'read' }), 'Read');
  eq(u.statusLabel({}), '');
  eq(u.statusShort({ status: 'held', held_by: 2 }), 'held by 2');
});

test('numbers and money', () => {
  eq(u.count(10000), '10,000');
  eq(u.plural(1, 'message'), '1 message');
  eq(u.plural(2500, 'message'), '2,500 messages');
  eq(u.money(-1200, 'village'), '−1,200 village');
  eq(u.signedMoney(50), '+50');
  eq(u.signedMoney(-50), '−50');
  eq(u.parseAmount(' 1,200 '), 1200);
  for (const bad of ['0', '-5', '1.5', 'abc', '', '99999999999999999']) eq(u.parseAmount(bad), null, bad);
});

test('windowed list arithmetic', () => {
  const h = [];
  h[1] = 100; // row 1 is measured, the others are estimated at 50
  const off = u.offsetsOf(h, 5, 50);
  eq(Array.from(off), [0, 50, 150, 200, 250, 300]);
  eq(u.rowAt(off, 0), 0);
  eq(u.rowAt(off, 49), 0);
  eq(u.rowAt(off, 50), 1);
  eq(u.rowAt(off, 149), 1);
  eq(u.rowAt(off, 299), 4);
  eq(u.rowAt(off, 10000), 4, 'past the end');
  eq(u.visibleRange(off, 60, 100, 0), { start: 1, end: 3, padTop: 50, padBottom: 100 });
  eq(u.visibleRange(off, 60, 100, 1), { start: 0, end: 4, padTop: 0, padBottom: 50 });
  eq(u.visibleRange(u.offsetsOf([], 0, 50), 0, 100), { start: 0, end: 0, padTop: 0, padBottom: 0 });
  // 10,000 rows: only a screenful (plus overscan) is rendered, wherever the view is.
  const big = u.offsetsOf([], 10000, 64);
  for (const top of [0, 320000, 639000 - 800, 5e6]) {
    const r = u.visibleRange(big, top, 800, 6);
    if (r.end - r.start > Math.ceil(800 / 64) + 1 + 12) throw new Error(`at ${top}: ${r.end - r.start} rows rendered`);
    if (r.padTop + (r.end - r.start) * 64 + r.padBottom !== 640000) throw new Error(`at ${top}: heights do not add up`);
  }
});

test('mergeMessages', () => {
  const m = (id, t, extra = {}) => ({ id, time: new Date(Date.UTC(2026, 0, 1, 0, 0, t)).toISOString(), ...extra });
  const list = [m('a', 1), m('b', 2)];
  eq(u.mergeMessages(list, []) === list, true, 'nothing new keeps the array');
  eq(u.mergeMessages(list, [m('b', 2)]).map((x) => x.id), ['a', 'b'], 'duplicate');
  eq(u.mergeMessages(list, [m('c', 3)]).map((x) => x.id), ['a', 'b', 'c'], 'newest');
  eq(u.mergeMessages(list, [m('z', 0), m('y', 0)]).map((x) => x.id), ['y', 'z', 'a', 'b'], 'older page');
  eq(u.mergeMessages(list, [m('b', 2, { status: 'read' })])[1].status, 'read', 'status update');
  eq(list[1].status, undefined, 'the old array is not changed');
});

test('red envelope announcement', () => {
  const id = 'ab'.repeat(32);
  eq(u.parseEnvelope(`🧧 Red envelope: 100 village in 5 shares. Claim it with: banyan wallet envelope claim ${id}`), { total: 100, unit: 'village', shares: 5, id });
  eq(u.parseEnvelope('🧧 Red envelope: 100 village in 5 shares.'), null);
  eq(u.parseEnvelope(`someone says: 🧧 Red envelope: 1 v in 1 shares. Claim it with: banyan wallet envelope claim ${id}`), null);
});

test('wallet account of a peer ID', () => {
  const q = new URLSearchParams(location.search);
  eq(u.accountOfPeer(q.get('peer')), q.get('account'));
  eq(u.accountOfPeer('QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N'), '', 'not an Ed25519 peer ID');
  eq(u.accountOfPeer('12D3KooW0OIl'), '', 'not base58');
  eq(Array.from(u.base58Decode('1112')), [0, 0, 0, 1]);
});

test('entry labels', () => {
  const me = 'me';
  eq(u.entryLabel({ type: 'pay', author: me }, me), 'Paid');
  eq(u.entryLabel({ type: 'pay', author: 'x' }, me), 'Received');
  eq(u.entryLabel({ type: 'envelope', author: me }, me), 'Red envelope sent');
  eq(u.entryLabel({ type: 'receipt', author: 'x' }, me), 'Confirmed your payment');
  eq(u.entryLabel({ type: 'limit', author: me }, me), 'Credit granted');
  eq(u.entryLabel({ type: 'limit', author: 'x' }, me), 'Credit granted to you');
  eq(u.lineStatus({ status: 'ok' }), '');
  eq(u.lineStatus({ status: 'invalid', reason: 'over the credit limit' }), 'refused: over the credit limit');
});

test('retention', () => {
  eq(u.retentionLabel({}), 'Keeps everything');
  eq(u.retentionLabel({ retention: '720h0m0s' }), 'Keeps 30 days');
  eq(u.retentionLabel({ retention: '36h0m0s', quota: 200e6 }), 'Keeps 36 hours, at most 200 MB');
  eq(u.parseDurationHours('2160h0m0s'), 2160);
  eq(u.parseDurationHours('1h30m0s'), null);
});

test('error messages', () => {
  eq(messageOf({ error: 'no such group "x"' }, '', 404), 'No such group "x".');
  eq(messageOf(null, '', 500), 'Something went wrong in your node.');
  eq(messageOf(null, 'plain text!', 400), 'Plain text!');
});

window.results = results;
document.getElementById('results').textContent = results.map((r) => (r.ok ? 'ok   ' : 'FAIL ') + r.name + (r.detail ? '\n' + r.detail : '')).join('\n');
