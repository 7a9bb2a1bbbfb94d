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

/**
 * Can this browser stream a request body to this server? Chromium refuses `duplex: 'half'`
 * bodies over HTTP/1.1 (it needs HTTP/2 or QUIC), which is what a local dev server speaks.
 * Over plain http:// the answer is known without asking (browsers speak HTTP/2 only over TLS),
 * and asking would put a net::ERR_H2_OR_QUIC_REQUIRED error in the console: no probe there.
 */
export async function probeStreamingUpload() {
  // Feature check first, with no request: an engine that streams request bodies reads `duplex`
  // and gives a stream body no Content-Type. Firefox and WebKit do neither, so they never send
  // the probe (which they would send as text, or refuse with a console error).
  if (!requestStreamsSupported()) return false;
  if (location.protocol !== 'https:') return false;
  try {
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(new Uint8Array([1, 2, 3]));
        controller.close();
      },
    });
    const response = await fetch('/api/upload-probe', { method: 'POST', body, duplex: 'half' });
    if (!response.ok) return false;
    const { bytes } = await response.json();
    return bytes === 3;
  } catch {
    return false;
  }
}

function requestStreamsSupported() {
  try {
    let duplexRead = false;
    const request = new Request('/api/upload-probe', {
      method: 'POST',
      body: new ReadableStream(),
      get duplex() {
        duplexRead = true;
        return 'half';
      },
    });
    return duplexRead && !request.headers.has('content-type');
  } catch {
    return false;
  }
}

/** One streamed PUT of the whole ciphertext (HTTP/2 and later). */
export async function uploadStream(id, stream, meta) {
  const response = await fetch(`/blobs/${encodeURIComponent(id)}`, {
    method: 'PUT',
    headers: { ...authHeaders(), 'content-type': 'application/vnd.sealbox.envelope', 'x-sealbox-name': encodeURIComponent(meta.name), 'x-sealbox-type': meta.type },
    body: stream,
    duplex: 'half',
  });
  return (await check(response)).json();
}

/**
 * Multi-part upload of a ciphertext stream: parts of `partSize` bytes, one uploading while the
 * next is being encrypted, so memory stays at about two parts whatever the file's size.
 * `onSent(bytes)` reports ciphertext bytes the server has acknowledged.
 */
export async function uploadParts(id, stream, meta, partSize, onSent, signal) {
  const created = await postJson('/uploads', { id, name: meta.name, type: meta.type });
  const base = `/uploads/${encodeURIComponent(created.uploadId)}`;
  const reader = stream.getReader();
  let pending = [];
  let pendingBytes = 0;
  let part = 0;
  let inFlight = Promise.resolve();
  const send = async (n, blob) => {
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await fetch(`${base}/parts/${n}`, { method: 'PUT', headers: { ...authHeaders(), 'content-type': 'application/octet-stream' }, body: blob, signal });
        await check(response);
        onSent(blob.size);
        return;
      } catch (error) {
        // Network hiccups: send the same part again (the server replaces a repeated last part).
        if (signal?.aborted || error.status !== undefined || attempt >= 3) throw error;
        await new Promise((r) => setTimeout(r, 300 * attempt));
      }
    }
  };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (!done) {
        pending.push(value);
        pendingBytes += value.length;
      }
      if (pendingBytes >= partSize || (done && pendingBytes > 0)) {
        const blob = new Blob(pending);
        pending = [];
        pendingBytes = 0;
        await inFlight;
        inFlight = send(part++, blob);
        inFlight.catch(() => {});
      }
      if (done) break;
    }
    await inFlight;
    const response = await fetch(`${base}/complete`, { method: 'POST', headers: authHeaders(), signal });
    return (await check(response)).json();
  } catch (error) {
    reader.cancel(error).catch(() => {});
    fetch(base, { method: 'DELETE', headers: authHeaders() }).catch(() => {});
    throw error;
  }
}
