// The node's local API from the browser: JSON in and out, the session
// cookie for authentication, and errors as sentences a person can act on.

// AuthError means the browser has no valid session: the page must be opened
// again from the link the node prints (or 'banyan open').
export class AuthError extends Error {}

// OfflineError means the node did not answer at all.
export class OfflineError extends Error {}

// request calls the API and returns the decoded JSON (or null for 204).
export async function request(method, path, body) {
  const opts = { method, credentials: 'same-origin', headers: {} };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, opts);
  } catch (e) {
    throw new OfflineError('Your Banyan node is not answering. Is it still running on this computer?');
  }
  if (resp.status === 204) return null;
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
  if (resp.status === 401) throw new AuthError(messageOf(data, text, resp.status));
  if (!resp.ok) throw new Error(messageOf(data, text, resp.status));
  return data;
}

// messageOf turns an error answer into a sentence starting with a capital.
export function messageOf(data, text, status) {
  let msg = (data && typeof data.error === 'string' && data.error) || (text || '').trim();
  if (!msg) msg = status >= 500 ? 'Something went wrong in your node.' : 'That did not work.';
  msg = msg.charAt(0).toUpperCase() + msg.slice(1);
  return /[.!?]$/.test(msg) ? msg : msg + '.';
}

export const get = (path) => request('GET', path);
export const post = (path, body) => request('POST', path, body === undefined ? {} : body);
export const put = (path, body) => request('PUT', path, body);
export const del = (path) => request('DELETE', path);

// esc escapes one path segment (group names and nicknames may hold spaces).
export const esc = encodeURIComponent;

// startSession trades a token from the page's URL fragment (#token=…) for a
// session cookie, then removes the token from the address bar and history.
// It returns true when there was a token.
export async function startSession(loc = window.location) {
  const m = /(?:^#|&)token=([0-9a-fA-F]+)/.exec(loc.hash);
  if (!m) return false;
  const rest = loc.hash.replace(/(?:^#|&)token=[0-9a-fA-F]+/, '').replace(/^&/, '');
  try {
    await request('POST', '/v1/session', { token: m[1] });
  } finally {
    history.replaceState(null, '', loc.pathname + loc.search + (rest ? '#' + rest : '#/chats'));
  }
  return true;
}
