// The dev server's HTTP API (see src/node/devserver/server.ts): demo tokens, blob store, keys, audit.

let session = null; // { token, expiresAt, user }

export function currentSession() {
  return session;
}

export function setSession(value) {
  session = value;
  if (value) sessionStorage.setItem('sealbox-demo-session', JSON.stringify(value));
  else sessionStorage.removeItem('sealbox-demo-session');
}

export function restoreSession() {
  try {
    const saved = JSON.parse(sessionStorage.getItem('sealbox-demo-session') ?? 'null');
    if (saved && saved.expiresAt > Date.now() + 60_000) session = saved;
  } catch {
    session = null;
  }
  return session;
}

export function authHeaders() {
  return session ? { authorization: `Bearer ${session.token}` } : {};
}

/** Like authHeaders, but first renews a demo token that expires within two minutes. */
export async function freshAuthHeaders() {
  if (session && session.expiresAt - Date.now() < 120_000) {
    try {
      setSession(await signIn(session.user.sub));
    } catch {
      // keep the old token: the call will say why it failed
    }
  }
  return authHeaders();
}

async function check(response) {
  if (response.ok) return response;
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body.error) message = body.error;
  } catch {
    // not JSON
  }
  const error = new Error(message);
  error.status = response.status;
  throw error;
}

export async function getJson(path, init = {}) {
  const response = await check(await fetch(path, { ...init, headers: { ...authHeaders(), ...(init.headers ?? {}) } }));
  return response.json();
}

export async function postJson(path, body) {
  return getJson(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) });
}

export const loadConfig = () => getJson('/api/config');
export const signIn = (user) => postJson('/api/token', { user });
export const listObjects = () => getJson('/blobs').then((r) => r.objects);
export const loadKeys = () => getJson('/api/keys');
export const rotateKey = () => postJson('/api/keys/rotate');
export const loadAudit = (after = 0) => getJson(`/api/audit?after=${after}`);
export const verifyAudit = () => getJson('/api/audit/verify');
export const payloadDigest = (id) => getJson(`/blobs/${encodeURIComponent(id)}/payload-digest`);

/** Bytes [start, end) of a stored object, with an HTTP Range request; counts what it fetched. */
export function rangeReader(id, stats) {
  return async (start, end) => {
    if (end <= start) return new Uint8Array(0);
    const response = await fetch(`/blobs/${encodeURIComponent(id)}`, { headers: { ...authHeaders(), range: `bytes=${start}-${end - 1}` } });
    if (response.status === 416) return new Uint8Array(0);
    await check(response);
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (response.status === 200) {
      // A server that ignores Range: keep only what was asked (never more than asked).
      return bytes.subarray(start, end);
    }
    if (stats) {
      stats.requests++;
      stats.bytes += bytes.length;
    }
    return bytes;
  };
}

export async function putHeader(id, header) {
  const response = await fetch(`/blobs/${encodeURIComponent(id)}/header`, {
    method: 'PUT',
    headers: { ...authHeaders(), 'content-type': 'application/octet-stream' },
    body: header,
  });
  return (await check(response)).json();
}

const toBase64 = (bytes) => btoa(String.fromCharCode(...bytes));
const fromBase64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

/**
 * The store's multipart upload of object `id`, in the shape `s3MultipartTarget` (sealbox/storage)
 * takes: the dev server creates, completes, aborts and lists the upload and hands out a URL per
 * part, presigned by S3 in S3 mode or signed by the dev server for its own store; the page PUTs
 * each part there and reads its ETag. The same code for both stores.
 */
export function multipartCallbacks(id, meta) {
  const base = (uploadId) => `/api/uploads/${encodeURIComponent(uploadId)}`;
  return {
    create: async (init) => (await postJson('/api/uploads', { id, name: meta.name, type: meta.type, head: toBase64(init.head) })).uploadId,
    presignPart: async (uploadId, partNumber) => {
      const { url, headers } = await postJson(`${base(uploadId)}/part-url`, { partNumber });
      return { url: new URL(url, location.href).href, headers: headers ?? {} };
    },
    complete: (uploadId, parts) => postJson(`${base(uploadId)}/complete`, { parts }),
    abort: async (uploadId) => {
      const response = await fetch(base(uploadId), { method: 'DELETE', headers: authHeaders() });
      if (response.status !== 404) await check(response);
    },
    listParts: async (uploadId) => (await getJson(`${base(uploadId)}/parts`)).parts,
    readHead: async (uploadId) => fromBase64((await getJson(`${base(uploadId)}/head`)).head),
  };
}

/** Where to read object `id` with ranged GETs: `{ url, headers? }` (a presigned GET in S3 mode). */
export const objectUrl = (id) => getJson(`/api/objects/${encodeURIComponent(id)}/url`);
