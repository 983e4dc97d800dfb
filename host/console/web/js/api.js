// The REST API: the token (in sessionStorage only: it ends with the tab,
// and never goes in a URL), fetch with the bearer header, 401 handling.

const KEY = 'lsie.token';

export class AuthError extends Error {
  constructor(message) {
    super(message);
    this.name = 'AuthError';
  }
}

export class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

let unauthorized = () => {};

// onUnauthorized sets what happens when any request answers 401.
export function onUnauthorized(fn) { unauthorized = fn; }

export function token() { return sessionStorage.getItem(KEY) || ''; }
export function setToken(t) {
  if (t) sessionStorage.setItem(KEY, t);
  else sessionStorage.removeItem(KEY);
}

async function request(path, tok, opts = {}) {
  const headers = { Accept: 'application/json' };
  if (tok) headers.Authorization = `Bearer ${tok}`;
  const resp = await fetch(path, { headers, cache: 'no-store', credentials: 'omit', signal: opts.signal });
  return resp;
}

async function errorMessage(resp) {
  try {
    const body = await resp.json();
    if (body && body.error && body.error.message) return body.error.message;
  } catch { /* not JSON */ }
  return `${resp.status} ${resp.statusText}`;
}

// get fetches a JSON document with the stored token; a 401 logs out.
export async function get(path, opts) {
  const resp = await request(path, token(), opts);
  if (resp.status === 401) {
    const msg = await errorMessage(resp);
    unauthorized(`The API refused the token (401: ${msg}). Enter it again.`);
    throw new AuthError(msg);
  }
  if (!resp.ok) throw new APIError(resp.status, `GET ${path}: ${await errorMessage(resp)}`);
  return resp.json();
}

// probe tells whether tok (possibly "") opens the API: true on 200,
// false on 401; anything else throws.
export async function probe(tok) {
  const resp = await request('/api/v1/streams', tok);
  if (resp.status === 401) return false;
  if (!resp.ok) throw new APIError(resp.status, `GET /api/v1/streams: ${await errorMessage(resp)}`);
  return true;
}

export const enc = encodeURIComponent;
