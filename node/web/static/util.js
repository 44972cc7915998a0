// Pure helpers: formatting, labels and the windowed list's arithmetic. No
// DOM and no network here, so the browser tests can check them directly.

// formatTime says when something happened the way a person would: the time
// today, "yesterday", the weekday this week, the date before that.
export function formatTime(when, now = new Date()) {
  const d = when instanceof Date ? when : new Date(when);
  if (isNaN(d)) return '';
  const hm = pad2(d.getHours()) + ':' + pad2(d.getMinutes());
  const day = startOfDay(d), today = startOfDay(now);
  const days = Math.round((today - day) / 86400000);
  if (days === 0) return hm;
  if (days === 1) return 'yesterday ' + hm;
  if (days > 1 && days < 7) return WEEKDAYS[d.getDay()] + ' ' + hm;
  const date = d.getDate() + ' ' + MONTHS[d.getMonth()];
  return d.getFullYear() === now.getFullYear() ? date : date + ' ' + d.getFullYear();
}

// formatDay is a day heading: "Today", "Yesterday", or the date.
export function formatDay(when, now = new Date()) {
  const d = when instanceof Date ? when : new Date(when);
  const days = Math.round((startOfDay(now) - startOfDay(d)) / 86400000);
  if (days === 0) return 'Today';
  if (days === 1) return 'Yesterday';
  const s = WEEKDAYS_LONG[d.getDay()] + ' ' + d.getDate() + ' ' + MONTHS_LONG[d.getMonth()];
  return d.getFullYear() === now.getFullYear() ? s : s + ' ' + d.getFullYear();
}

// formatWhen gives a time to come, such as an event's start: "Fri 4 Dec,
// 21:40", with the year when it is not this one; 24-hour, as formatTime.
export function formatWhen(when, now = new Date()) {
  const d = when instanceof Date ? when : new Date(when);
  if (isNaN(d)) return '';
  const date = WEEKDAYS[d.getDay()] + ' ' + d.getDate() + ' ' + MONTHS[d.getMonth()];
  return (d.getFullYear() === now.getFullYear() ? date : date + ' ' + d.getFullYear()) + ', ' + pad2(d.getHours()) + ':' + pad2(d.getMinutes());
}

// initial is the letter that stands for a name where there is no picture
// (a "~", which marks a name its owner chose, is not a letter of it).
export function initial(name) {
  return (name || '?').replace(/^~/, '').slice(0, 1).toUpperCase() || '?';
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const WEEKDAYS_LONG = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTHS_LONG = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

function pad2(n) { return n < 10 ? '0' + n : '' + n; }
function startOfDay(d) { return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime(); }

// statusLabel describes where one of my messages is: a group message is
// "stored" (only on this computer) or "held by N"; a private one also
// becomes "delivered" and "read".
export function statusLabel(m) {
  switch (m.status) {
    case 'stored': return 'Only on this computer so far';
    case 'held': return m.held_by === 1 ? 'Held by 1 other computer' : `Held by ${m.held_by || 0} other computers`;
    case 'delivered': return 'Delivered';
    case 'read': return 'Read';
    default: return '';
  }
}

// statusShort is statusLabel for the small tick next to a message.
export function statusShort(m) {
  switch (m.status) {
    case 'stored': return 'stored';
    case 'held': return `held by ${m.held_by || 0}`;
    case 'delivered': return 'delivered';
    case 'read': return 'read';
    default: return '';
  }
}

// count writes a number with thousands separators: "10,000".
export function count(n) {
  return Number(n || 0).toLocaleString('en-US');
}

// plural: plural(1, 'message') is "1 message", plural(3, 'message') "3 messages".
export function plural(n, one, many = one + 's') {
  return count(n) + ' ' + (n === 1 ? one : many);
}

// money writes an amount in minor units with its unit: "-120 village".
export function money(n, unit = '') {
  const s = (n < 0 ? '−' : '') + count(Math.abs(n));
  return unit ? s + ' ' + unit : s;
}

// signedMoney shows the sign of a change in balance: "+50", "−20".
export function signedMoney(n) {
  return (n > 0 ? '+' : n < 0 ? '−' : '') + count(Math.abs(n));
}

// shortID abbreviates a peer ID or account for people: "…51CPc".
export function shortID(id) {
  if (!id) return '';
  return '…' + id.slice(-6);
}

// parseAmount reads a whole positive number of minor units typed by a
// person ("1,200" or " 1200 "), or returns null.
export function parseAmount(s) {
  const t = String(s || '').replace(/[\s,]/g, '');
  if (!/^[0-9]{1,16}$/.test(t)) return null;
  const n = Number(t);
  return n > 0 && Number.isSafeInteger(n) ? n : null;
}

// ---- peer IDs and wallet accounts ----

const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

// base58Decode decodes Bitcoin-alphabet base58, or returns null.
export function base58Decode(s) {
  let zeros = 0;
  while (zeros < s.length && s[zeros] === '1') zeros++;
  const bytes = []; // little-endian while decoding
  for (const ch of s) {
    let carry = B58.indexOf(ch);
    if (carry < 0) return null;
    for (let i = 0; i < bytes.length; i++) {
      carry += bytes[i] * 58;
      bytes[i] = carry & 0xff;
      carry >>= 8;
    }
    while (carry > 0) { bytes.push(carry & 0xff); carry >>= 8; }
  }
  for (let i = 0; i < zeros; i++) bytes.push(0);
  return Uint8Array.from(bytes.reverse());
}

// accountOfPeer returns the wallet account (hex Ed25519 public key) of an
// Ed25519 peer ID, whose identity multihash holds the key itself, or ''.
export function accountOfPeer(peerID) {
  const b = base58Decode(peerID || '');
  // identity multihash: 0x00, length 36, protobuf {1: Ed25519 (1), 2: 32-byte key}
  if (!b || b.length !== 38 || b[0] !== 0x00 || b[1] !== 36 || b[2] !== 0x08 || b[3] !== 0x01 || b[4] !== 0x12 || b[5] !== 0x20) return '';
  let hex = '';
  for (let i = 6; i < 38; i++) hex += (b[i] < 16 ? '0' : '') + b[i].toString(16);
  return hex;
}

// ---- red envelopes ----

// parseEnvelope recognises a red envelope's announcement in a group:
// "🧧 Red envelope: 100 village in 5 shares. Claim it with: … claim ID".
export function parseEnvelope(text) {
  const m = /^🧧 Red envelope: ([0-9]+) (\S+) in ([0-9]+) shares?\. Claim it with: banyan wallet envelope claim ([0-9a-f]{64})$/.exec(text || '');
  if (!m) return null;
  return { total: Number(m[1]), unit: m[2], shares: Number(m[3]), id: m[4] };
}

// ---- wallet statement ----

// entryLabel names a statement line in plain words.
export function entryLabel(line, me) {
  const mine = line.author === me;
  switch (line.type) {
    case 'pay': return mine ? 'Paid' : 'Received';
    case 'receipt': return mine ? 'You confirmed a payment' : 'Confirmed your payment';
    case 'refund': return mine ? 'Refunded' : 'Refund received';
    case 'limit': return mine ? 'Credit granted' : 'Credit granted to you';
    case 'envelope': return 'Red envelope sent';
    case 'claim': return 'Red envelope share';
    case 'settle': return mine ? 'Red envelope returned' : 'Red envelope share';
    default: return line.type;
  }
}

// lineStatus explains a statement line's state, or '' when it is simply done.
export function lineStatus(line) {
  switch (line.status) {
    case 'ok': return '';
    case 'pending': return 'waiting for confirmation';
    case 'void': return 'cancelled' + (line.reason ? ': ' + line.reason : '');
    case 'invalid': return 'refused' + (line.reason ? ': ' + line.reason : '');
    default: return line.status;
  }
}

// ---- the windowed list ----

// offsetsOf returns prefix sums of row heights: offsets[i] is where row i
// starts and offsets[n] the total height. Rows without a measured height
// count as estimate.
export function offsetsOf(heights, n, estimate) {
  const off = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) off[i + 1] = off[i] + (heights[i] > 0 ? heights[i] : estimate);
  return off;
}

// rowAt returns the index of the row at y (0 ≤ result < n), by binary
// search in offsets.
export function rowAt(offsets, y) {
  const n = offsets.length - 1;
  if (n <= 0) return 0;
  let lo = 0, hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (offsets[mid] <= y) lo = mid; else hi = mid - 1;
  }
  return lo;
}

// visibleRange returns the rows [start, end) to put in the DOM for a
// viewport at scrollTop of the given height, with overscan rows on either
// side, and the blank space above and below them.
export function visibleRange(offsets, scrollTop, viewport, overscan = 8) {
  const n = offsets.length - 1;
  if (n <= 0) return { start: 0, end: 0, padTop: 0, padBottom: 0 };
  const first = rowAt(offsets, Math.max(0, scrollTop));
  const last = rowAt(offsets, Math.max(0, scrollTop + viewport - 1));
  const start = Math.max(0, first - overscan);
  const end = Math.min(n, last + 1 + overscan);
  return { start, end, padTop: offsets[start], padBottom: offsets[n] - offsets[end] };
}

// mergeMessages adds incoming messages to a list sorted oldest first,
// replacing those with the same id (a status change) and keeping order by
// time, then id. It returns a new array only when something changed.
export function mergeMessages(list, incoming, key = (m) => m.id) {
  if (!incoming.length) return list;
  const byID = new Map(list.map((m, i) => [key(m), i]));
  let out = null;
  const added = [];
  for (const m of incoming) {
    const i = byID.get(key(m));
    if (i !== undefined) {
      out = out || list.slice();
      out[i] = { ...out[i], ...m };
    } else {
      added.push(m);
      byID.set(key(m), -1);
    }
  }
  if (!added.length) return out || list;
  out = (out || list).concat(added);
  // Usually the new ones are newest and already in order; sort only if not.
  for (let i = Math.max(1, out.length - added.length); i < out.length; i++) {
    if (compareMsg(out[i - 1], out[i]) > 0) { out.sort(compareMsg); break; }
  }
  return out;
}

function compareMsg(a, b) {
  const ta = Date.parse(a.time), tb = Date.parse(b.time);
  if (ta !== tb) return ta - tb;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

// retentionLabel describes how long a group's history is kept here.
export function retentionLabel(g) {
  const parts = [];
  if (g.retention) {
    const h = parseDurationHours(g.retention);
    parts.push(h === null ? g.retention : h % 24 === 0 ? plural(h / 24, 'day') : plural(h, 'hour'));
  }
  if (g.quota) parts.push('at most ' + bytesLabel(g.quota));
  return parts.length ? 'Keeps ' + parts.join(', ') : 'Keeps everything';
}

// parseDurationHours reads a Go duration such as "720h" or "720h0m0s" in
// whole hours, or returns null.
export function parseDurationHours(s) {
  const m = /^([0-9]+)h(?:0m0s)?$/.exec(s || '');
  return m ? Number(m[1]) : null;
}

export function bytesLabel(n) {
  if (n >= 1e9) return (n / 1e9).toFixed(1).replace(/\.0$/, '') + ' GB';
  if (n >= 1e6) return (n / 1e6).toFixed(1).replace(/\.0$/, '') + ' MB';
  if (n >= 1e3) return (n / 1e3).toFixed(1).replace(/\.0$/, '') + ' kB';
  return n + ' bytes';
}
