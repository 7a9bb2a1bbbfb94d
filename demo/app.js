// The Sealbox demo page. Everything cryptographic happens here, in the browser, with the Sealbox
// bundle (/sealbox/sealbox.min.js): the server sees ciphertext and envelope headers only.
import {
  DecryptStream,
  EncryptStream,
  KmsClient,
  KmsKeyring,
  MultiKeyring,
  RsaOaepKeyring,
  decryptRange,
  envelopeHeadLength,
  inspect,
  rewrapHeader,
} from '/sealbox/sealbox.min.js';
import { registerObject, revokeObject, startSealboxServiceWorker } from '/sealbox/sealbox-sw-client.min.js';
import { httpRangeSource, resumeUpload, s3MultipartTarget, uploadEncrypted } from '/sealbox/storage.min.js';
import * as resume from './lib/resume.js';
import * as api from './lib/api.js';
import { formatBytes, formatRate, formatTime, fromBase64, h, hexdump, newId, plaintextLength, reason, shortKey } from './lib/ui.js';

const $ = (id) => document.getElementById(id);

const state = {
  config: null,
  objects: [],
  headers: new Map(), // id + etag → inspect() result
  keys: null,
  auditSeen: new Set(),
};

/** Set when the page goes away: an upload cut short by a reload is kept for resuming, not aborted. */
let unloading = false;
addEventListener('pagehide', () => (unloading = true));

/** The store's multipart callbacks; a reload does not abort the upload (it is resumed later). */
function multipartTarget(id, meta) {
  const callbacks = api.multipartCallbacks(id, meta);
  const abort = callbacks.abort;
  return s3MultipartTarget({ ...callbacks, abort: (uploadId) => (unloading ? Promise.resolve() : abort(uploadId)) });
}

/** Parts in flight at once (uploadEncrypted's concurrency). */
const UPLOAD_CONCURRENCY = 4;

let client;
let decryptKeyring;
let offlineKeyring;

// ── notices ──────────────────────────────────────────────────────────────────────────────────

function notice(text, kind = 'info') {
  const el = $('notice');
  el.hidden = false;
  el.className = `notice ${kind}`;
  el.textContent = text;
}

// ── keys and names ───────────────────────────────────────────────────────────────────────────

function aliasOf(arn) {
  const { keys, offline } = state.config;
  for (const k of Object.values(keys)) if (k.arn === arn) return k.alias;
  if (arn === offline.keyArn) return offline.alias;
  return undefined;
}

function keyLabel(arn) {
  if (arn.startsWith(resume.KEY_PREFIX)) return 'upload resume key (this browser only; deleted once the upload is stored)';
  const alias = aliasOf(arn);
  return alias ? `${alias} (${shortKey(arn)})` : shortKey(arn) || arn;
}

function setupKeyrings() {
  const { keys, offline } = state.config;
  client = new KmsClient({
    endpoint: new URL(state.config.proxy, location.href).href,
    auth: () => api.freshAuthHeaders(),
    retry: { maxAttempts: 3 },
  });
  const keyTypes = { [offline.keyArn]: 'rsa' };
  for (const k of Object.values(keys)) keyTypes[k.arn] = 'symmetric';
  // Decrypting: any of the demo keys (symmetric per tenant, the RSA key): the keyring sends the
  // envelope's recipient to the proxy, which decides. A user of the other tenant is refused there.
  decryptKeyring = new KmsKeyring({
    client,
    keyId: keys[state.config.tenants[0]].arn,
    additionalKeyIds: [...state.config.tenants.slice(1).map((t) => keys[t].arn), offline.keyArn],
    keyTypes,
  });
  // Offline encryption: the RSA public key (from the server's config) and nothing else.
  offlineKeyring = new RsaOaepKeyring({ publicKey: fromBase64(offline.publicKey), keyId: offline.keyArn });
}

function encryptKeyring(mode) {
  const session = api.currentSession();
  if (mode === 'offline') return offlineKeyring;
  const alias = state.config.keys[session.user.tenant].alias;
  return new KmsKeyring({ client, keyId: alias, keyTypes: { [alias]: 'symmetric' } });
}

// ── sign in ──────────────────────────────────────────────────────────────────────────────────

function renderUsers() {
  const session = api.currentSession();
  const box = $('users');
  box.replaceChildren(
    ...state.config.users.map((u) =>
      h(
        'button',
        {
          type: 'button',
          class: 'user',
          'data-user': u.sub,
          'aria-pressed': String(session?.user.sub === u.sub),
          onclick: () => signInAs(u.sub),
        },
        h('span', { class: 'u-name', text: u.name }),
        h('span', { class: 'u-role' }, h('span', { class: `pill ${u.tenant}`, text: u.tenant }), ` ${u.role}`),
      ),
    ),
  );
}

async function signInAs(sub) {
  try {
    const result = await api.signIn(sub);
    api.setSession(result);
    notice(`Signed in as ${result.user.name} (${result.user.tenant}, ${result.user.role}).`, 'ok');
    onSessionChange();
  } catch (error) {
    notice(`Sign-in failed: ${reason(error)}`, 'error');
  }
}

function onSessionChange() {
  revokeServed();
  const session = api.currentSession();
  $('preview').hidden = true;
  $('preview-body').replaceChildren();
  renderUsers();
  const who = $('whoami');
  if (session) {
    const u = session.user;
    who.replaceChildren(
      h('span', {}, 'Signed in as ', h('strong', { text: u.name }), ' '),
      h('span', { class: `pill ${u.tenant}`, text: u.tenant }),
      h('span', { class: 'pill', text: u.role }),
      h('button', { type: 'button', class: 'ghost small', onclick: () => { api.setSession(null); notice('Signed out.'); onSessionChange(); } }, 'Sign out'),
    );
  } else {
    who.replaceChildren(h('span', { class: 'muted', text: 'Not signed in' }));
  }
  const uploader = session?.user.role === 'uploader';
  $('drop').classList.toggle('disabled', !uploader);
  $('file').disabled = !uploader;
  $('mode-kms-key').textContent = session ? state.config.keys[session.user.tenant].alias : 'alias/<tenant>';
  $('upload-mode').textContent = !session
    ? 'Sign in as an uploader to encrypt files.'
    : !uploader
      ? `${session.user.name} is a reader: readers may decrypt but not encrypt (separation of duties). Sign in as an uploader to add files.`
      : uploadModeText();
  $('rotate').disabled = !uploader;
  offerResume();
  renderObjects();
}

function uploadModeText() {
  const where = state.config.store === 's3' ? 'an S3 bucket, through presigned part URLs' : "the dev server's store";
  return `Upload: encrypted straight into a multipart upload to ${where} (uploadEncrypted): parts of ${formatBytes(state.config.partSize)}, ${UPLOAD_CONCURRENCY} sealed and sent at once, each retried on failure; memory stays at a few parts whatever the file's size.`;
}

// ── upload ───────────────────────────────────────────────────────────────────────────────────

async function uploadFiles(files) {
  const session = api.currentSession();
  if (!session || session.user.role !== 'uploader') {
    notice('Only an uploader may encrypt and upload: sign in as Alice or Carol.', 'error');
    return;
  }
  for (const file of files) await uploadFile(file);
  await refreshObjects();
}

async function uploadFile(file) {
  const session = api.currentSession();
  const mode = document.querySelector('input[name="mode"]:checked').value;
  const id = newId();
  const context = { tenant: session.user.tenant, object: id };
  const meta = { name: file.name, type: file.type || 'application/octet-stream' };
  // A key pair made for this upload only, its private half non-extractable in this browser's
  // IndexedDB: an extra recipient that lets this page resume the upload after a reload (uploaders
  // may not decrypt through the proxy), useless once the key is deleted when the upload completes.
  const resumeKey = await resume.newResumeKey(id);
  const keyring = new MultiKeyring({ generator: encryptKeyring(mode), others: [resumeKey.keyring] });
  await transfer(file, mode === 'offline' ? 'encrypting (offline RSA)…' : 'encrypting…', id, (onProgress) =>
    uploadEncrypted(file, {
      keyring,
      context,
      target: multipartTarget(id, meta),
      partSize: state.config.partSize,
      concurrency: UPLOAD_CONCURRENCY,
      onCreate: ({ uploadId, head }) => resume.save({ id, uploadId, head, name: file.name, size: file.size, lastModified: file.lastModified, type: meta.type, user: session.user.sub }),
      onProgress,
    }),
  );
}

/** Finishes an upload that a reload (or a closed tab) stopped: only the missing parts are sent. */
async function resumeFile(file, saved) {
  if (file.name !== saved.name || file.size !== saved.size || file.lastModified !== saved.lastModified) {
    notice(`That is not the file being uploaded (${saved.name}, ${formatBytes(saved.size)}): choose that one to resume.`, 'error');
    return;
  }
  $('resume').hidden = true;
  const keyring = await resume.resumeKeyring(saved.id);
  await transfer(file, 'resuming…', saved.id, (onProgress) =>
    resumeUpload(file, {
      keyring,
      target: multipartTarget(saved.id, { name: saved.name, type: saved.type }),
      uploadId: saved.uploadId,
      head: saved.head,
      partSize: state.config.partSize,
      concurrency: UPLOAD_CONCURRENCY,
      onProgress,
    }),
  );
  await refreshObjects();
}

/** One row in the transfers list around an upload (new or resumed); `run(onProgress)` does it. */
async function transfer(file, first, id, run) {
  const li = $('tpl-transfer').content.firstElementChild.cloneNode(true);
  li.dataset.id = id;
  li.querySelector('.t-name').textContent = file.name;
  const status = li.querySelector('.t-status');
  const bar = li.querySelector('progress');
  bar.setAttribute('aria-label', `Encrypting and uploading ${file.name}`);
  const bytesEl = li.querySelector('.t-bytes');
  const rateEl = li.querySelector('.t-rate');
  $('transfers').prepend(li);
  status.textContent = first;

  let progress = { bytes: 0, parts: 0, inFlight: 0 };
  let maxInFlight = 0;
  const started = performance.now();
  const update = () => {
    const elapsed = performance.now() - started;
    bar.value = file.size === 0 ? 1 : Math.min(progress.bytes / file.size, 1);
    const parts = progress.totalParts ? `part ${progress.parts} of ${progress.totalParts}` : `${progress.parts} parts`;
    bytesEl.textContent = `${formatBytes(progress.bytes)} of ${formatBytes(file.size)} encrypted and stored · ${parts} · ${progress.inFlight} in flight`;
    rateEl.textContent = formatRate(progress.bytes, elapsed);
  };
  const timer = setInterval(update, 200);
  try {
    const result = await run((p) => {
      progress = p;
      maxInFlight = Math.max(maxInFlight, p.inFlight);
      li.dataset.parts = String(p.parts);
      li.dataset.maxInFlight = String(maxInFlight);
    });
    await resume.forget(id);
    update();
    const seconds = (performance.now() - started) / 1000;
    bar.value = 1;
    status.textContent = 'stored ✓';
    status.className = 't-status ok';
    rateEl.textContent = `${formatRate(file.size, seconds * 1000)} average · ${formatBytes(result.size)} of ciphertext in ${result.parts.length} part${result.parts.length === 1 ? '' : 's'}, up to ${maxInFlight} at once`;
    li.dataset.done = 'true';
  } catch (error) {
    if (unloading) return;
    await resume.forget(id); // the upload was aborted: nothing to resume
    update();
    status.textContent = 'failed';
    status.className = 't-status error';
    rateEl.textContent = reason(error);
    li.dataset.error = reason(error);
    notice(`Upload of ${file.name} failed: ${reason(error)}`, 'error');
  } finally {
    clearInterval(timer);
  }
}

/** After a reload: offers to finish the upload that was under way. */
function offerResume() {
  const saved = resume.saved();
  const box = $('resume');
  const session = api.currentSession();
  if (!saved || !session || session.user.sub !== saved.user) {
    box.hidden = true;
    return;
  }
  $('resume-text').textContent = `The upload of ${saved.name} (${formatBytes(saved.size)}) stopped before it finished. The parts that landed are kept: choose the same file to send only the rest.`;
  box.hidden = false;
}

function setupResume() {
  const input = $('resume-file');
  input.addEventListener('change', () => {
    const [file] = input.files;
    input.value = '';
    const saved = resume.saved();
    if (file && saved) resumeFile(file, saved);
  });
  $('resume-drop').addEventListener('click', async () => {
    const saved = resume.saved();
    $('resume').hidden = true;
    if (!saved) return;
    await api.multipartCallbacks(saved.id, {}).abort(saved.uploadId).catch(() => {});
    await resume.forget(saved.id);
  });
}

function setupDrop() {
  const drop = $('drop');
  const input = $('file');
  input.addEventListener('change', () => {
    const files = [...input.files];
    input.value = '';
    uploadFiles(files);
  });
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    uploadFiles([...e.dataTransfer.files]);
  });
}

// ── objects ──────────────────────────────────────────────────────────────────────────────────

/**
 * Ranged reads of a stored object through the URL the store gives (the dev server's /blobs/<id>,
 * or a presigned S3 GET), pinned to its ETag: the same code for both stores.
 */
async function rangeSourceOf(id, fetchImpl) {
  const { url, headers } = await api.objectUrl(id);
  return httpRangeSource(new URL(url, location.href).href, { headers: headers ?? {}, ...(fetchImpl ? { fetch: fetchImpl } : {}) });
}

async function headerOf(obj) {
  const cacheKey = `${obj.id} ${obj.etag}`;
  let info = state.headers.get(cacheKey);
  if (!info) {
    const source = await rangeSourceOf(obj.id);
    let bytes = await source.read(0, Math.min(obj.size, 8192));
    const need = Math.min(envelopeHeadLength(bytes.subarray(0, 8)), obj.size);
    if (need > bytes.length) bytes = await source.read(0, need);
    info = await inspect(bytes);
    state.headers.set(cacheKey, info);
  }
  return info;
}

async function refreshObjects() {
  try {
    state.objects = await api.listObjects();
    await Promise.all(
      state.objects.map(async (o) => {
        try {
          o.header = await headerOf(o);
        } catch (error) {
          o.headerError = reason(error);
        }
      }),
    );
    renderObjects();
  } catch (error) {
    notice(`Could not list objects: ${reason(error)}`, 'error');
  }
}

function renderObjects() {
  const body = $('object-rows');
  if (!state.config) return;
  if (state.objects.length === 0) {
    body.replaceChildren(h('tr', {}, h('td', { colspan: 5, class: 'muted', text: 'No objects yet. Sign in as an uploader and drop a file.' })));
    return;
  }
  const session = api.currentSession();
  body.replaceChildren(...state.objects.flatMap((o) => objectRow(o, session)));
}

function objectRow(o, session) {
  const info = o.header;
  const ctx = info?.context ?? {};
  const plainSize = info ? plaintextLength(o.size, info.headerLength, info.chunkSize) : undefined;
  const msg = h('div', { class: 'row-msg', role: 'status', 'aria-live': 'polite', 'data-for': o.id });
  const versions = new Map((o.keyVersions ?? []).map((v) => [v.keyId, v.version]));
  const hasKms = info?.recipients.some((r) => r.type === 'kms');
  // Rewrap rewrites the header in place: the embedded store can; S3 cannot (`sealbox rewrap s3://…` writes a new object).
  const canRewrap = state.config.store !== 's3' && session?.user.role === 'uploader' && ctx.tenant === session.user.tenant && hasKms;
  const label = o.name ?? o.id;
  const row = h(
    'tr',
    { 'data-id': o.id, class: 'obj' },
    h(
      'td',
      { 'data-label': 'Object' },
      h('span', { class: 'obj-name', text: label }),
      h('br'),
      h('code', { class: 'small muted', text: o.id }),
      h('div', { class: 'small muted', text: `by ${o.uploadedBy ?? '?'} · ${formatTime(o.rewrappedAt ?? o.createdAt)}${o.rewrappedAt ? ' (rewrapped)' : ''}` }),
    ),
    h(
      'td',
      { 'data-label': 'Size' },
      h('span', { class: 'kv', text: plainSize === undefined ? '?' : formatBytes(plainSize) }),
      h('span', { class: 'small muted kv', text: `${formatBytes(o.size)} stored` }),
      info ? h('span', { class: 'small muted kv', text: `${info.suite}, ${info.chunkSize / 1024} KiB chunks` }) : null,
    ),
    h(
      'td',
      { 'data-label': 'Context' },
      o.headerError ? h('span', { class: 'row-msg error', text: o.headerError }) : null,
      ...Object.entries(ctx).map(([k, v]) => h('span', { class: 'kv' }, h('span', { class: 'muted', text: `${k}=` }), k === 'tenant' ? h('span', { class: `pill ${v}`, text: v }) : h('code', { text: v }))),
    ),
    h(
      'td',
      { 'data-label': 'Recipients / key' },
      ...(info?.recipients ?? []).map((r) =>
        h(
          'span',
          { class: 'rcpt' },
          h('span', { class: 'pill', text: r.type }),
          ' ',
          h('span', { text: keyLabel(r.keyId), title: r.keyId }),
          versions.has(r.keyId) ? h('span', { class: 'muted', text: ` · v${versions.get(r.keyId)}` }) : null,
        ),
      ),
    ),
    h(
      'td',
      { 'data-label': 'Actions' },
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'button', class: 'small', 'data-action': 'download', disabled: !session || !info, onclick: () => download(o, msg) }, 'Download'),
        h('button', { type: 'button', class: 'small ghost', 'data-action': 'preview', disabled: !session || !info, onclick: () => preview(o, msg) }, 'Preview'),
        /^(video|audio)\//.test(o.type ?? '') ? h('button', { type: 'button', class: 'small ghost', 'data-action': 'play', disabled: !session || !info, onclick: () => play(o, msg) }, 'Play') : null,
        canRewrap ? h('button', { type: 'button', class: 'small ghost', 'data-action': 'rewrap', onclick: () => rewrapObject(o, msg) }, 'Rewrap') : null,
      ),
    ),
  );
  return [row, h('tr', { class: 'msg-row' }, h('td', { colspan: 5 }, msg))];
}

function say(msg, text, kind = '') {
  msg.className = `row-msg ${kind}`;
  msg.textContent = text;
}

function expectedContext(o) {
  const ctx = o.header.context;
  return ctx.object === o.id ? { object: o.id } : {};
}

async function download(o, msg) {
  // Ask where to save first (the picker needs the click's user activation); stream to it.
  let writable;
  // When the proxy's policy will refuse (another tenant's object, or not a reader), don't ask
  // where to save first: try, and show the refusal (a Blob download, should it be allowed after all).
  const u = api.currentSession()?.user;
  const likelyDenied = !u || u.role !== 'reader' || o.header?.context?.tenant !== u.tenant;
  if (!likelyDenied && typeof window.showSaveFilePicker === 'function') {
    try {
      const handle = await window.showSaveFilePicker({ suggestedName: o.name ?? `${o.id}.bin` });
      writable = await handle.createWritable();
    } catch (error) {
      if (error.name === 'AbortError') return;
      writable = undefined;
    }
  }
  // No File System Access API (Firefox, Safari, or a refused picker): stream through the Service
  // Worker instead of gathering the plaintext into one Blob.
  if (!writable && sw.registration) return downloadThroughSw(o, msg);
  say(msg, 'decrypting…');
  const started = performance.now();
  let got = 0;
  try {
    const source = await rangeSourceOf(o.id);
    const decrypt = new DecryptStream({ keyring: decryptKeyring, expectContext: expectedContext(o) });
    const counter = new TransformStream({
      transform(chunk, controller) {
        got += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    const plain = source.stream().pipeThrough(decrypt).pipeThrough(counter).pipeThrough(batches(1024 * 1024));
    const timer = setInterval(() => say(msg, `decrypting… ${formatBytes(got)} · ${formatRate(got, performance.now() - started)}`), 250);
    try {
      if (writable) {
        await plain.pipeTo(writable);
      } else {
        const blob = await new Response(plain).blob();
        const url = URL.createObjectURL(new Blob([blob], { type: o.type || 'application/octet-stream' }));
        const a = h('a', { href: url, download: o.name ?? `${o.id}.bin`, hidden: true });
        document.body.append(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 60_000);
      }
    } finally {
      clearInterval(timer);
    }
    // Say where the plaintext went: streamed to a file (File System Access), or collected into a
    // Blob (engines without it: Firefox, Safari), which holds the whole plaintext in memory.
    msg.dataset.path = writable ? 'file-system-access' : 'blob';
    const path = writable ? 'streamed to the file' : 'saved through a Blob (no File System Access in this browser)';
    say(msg, `decrypted ✓ ${formatBytes(got)} at ${formatRate(got, performance.now() - started)}; every chunk authenticated; ${path}`, 'ok');
  } catch (error) {
    if (writable) await writable.abort().catch(() => {});
    denied(msg, 'Download', error, o);
  }
}

/**
 * Gathers small chunks (DecryptStream emits one per 16 KiB chunk) into writes of about `size`
 * bytes: a file writer pays per write, so this is several times faster, and memory stays bounded.
 */
function batches(size) {
  let parts = [];
  let have = 0;
  const flush = (controller) => {
    if (have === 0) return;
    const out = new Uint8Array(have);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.byteLength;
    }
    parts = [];
    have = 0;
    controller.enqueue(out);
  };
  return new TransformStream({
    transform(chunk, controller) {
      parts.push(chunk);
      have += chunk.byteLength;
      if (have >= size) flush(controller);
    },
    flush,
  });
}

function denied(msg, what, error, o) {
  const text = reason(error);
  const isDenied = /ACCESS_DENIED|AccessDenied|not authorized/i.test(text);
  const u = api.currentSession()?.user;
  const owner = o?.header?.context?.tenant;
  const why =
    isDenied && u && owner && owner !== u.tenant
      ? `${u.name} (${u.tenant}) may not decrypt an object of ${owner}: tenant isolation. `
      : isDenied && u && u.role !== 'reader' && what !== 'Rewrap'
        ? `${u.name} is an ${u.role}; only readers decrypt (separation of duties). `
        : '';
  say(msg, `${isDenied ? 'Denied' : `${what} failed`}: ${why}${isDenied ? 'The proxy said: ' : ''}${text}`, 'error');
  msg.dataset.denied = String(isDenied);
  notice(`${what} ${isDenied ? 'denied by the proxy' : 'failed'}: ${text}`, 'error');
}

// ── the Service Worker (sealbox/sw): decrypted objects as ordinary URLs ───────────────────────
// The page unwraps the data key (through the proxy, with this user's token) and gives the worker
// only a non-extractable CryptoKey and the ciphertext's URL (/blobs/<id>, which needs no token).
// Each use registers again (the worker may have restarted and lost its keys); a change of user
// revokes what the last one registered.

const sw = { registration: undefined, served: new Set() };

async function startServiceWorker() {
  if (!('serviceWorker' in navigator)) {
    document.body.dataset.sw = 'unavailable';
    return;
  }
  try {
    sw.registration = await startSealboxServiceWorker('/sw.js', { scope: '/' });
    document.body.dataset.sw = 'ready';
  } catch (error) {
    document.body.dataset.sw = 'unavailable';
    console.warn('Service Worker unavailable, downloads go through a Blob:', error);
  }
}

function revokeServed() {
  for (const id of sw.served) revokeObject(id, { target: sw.registration }).catch(() => {});
  sw.served.clear();
}

async function serve(o, extra) {
  const path = await registerObject(sw.registration, {
    id: o.id,
    url: `/blobs/${encodeURIComponent(o.id)}`,
    key: decryptKeyring,
    expectContext: expectedContext(o),
    contentType: o.type || 'application/octet-stream',
    filename: o.name ?? `${o.id}.bin`,
    size: o.size,
    ...extra,
  });
  sw.served.add(o.id);
  return path;
}

async function downloadThroughSw(o, msg) {
  say(msg, 'unwrapping the key…');
  try {
    const path = await serve(o, { download: true });
    // The worker's Content-Disposition names the file (with a download attribute, Chromium
    // canceled this download in demo-e2e). Fetched by a hidden frame, not by navigating the page:
    // Firefox cuts the page's open requests (the audit feed) when the page itself navigates.
    const frame = h('iframe', { src: path, hidden: true, 'data-sw': 'true' });
    document.body.append(frame);
    setTimeout(() => frame.remove(), 60_000);
    msg.dataset.path = 'service-worker';
    msg.dataset.url = path;
    say(msg, `downloading through the Service Worker ✓ decrypted as it streams (${path}); every chunk authenticated`, 'ok');
  } catch (error) {
    denied(msg, 'Download', error, o);
  }
}

async function play(o, msg) {
  if (!sw.registration) {
    say(msg, 'Playing needs the Service Worker, which this browser did not start.', 'error');
    return;
  }
  say(msg, 'unwrapping the key…');
  try {
    const path = await serve(o, {});
    const section = $('preview');
    section.hidden = false;
    $('preview-title').textContent = `Play: ${o.name ?? o.id}`;
    $('preview-meta').textContent =
      `Served by the Service Worker at ${path}: it fetches the header and the chunks covering what the player asks for (seeking reads from the seek point), and authenticates each before the player sees it.`;
    $('preview-body').replaceChildren(h(o.type?.startsWith('audio/') ? 'audio' : 'video', { src: path, controls: true, preload: 'metadata', 'data-kind': 'media' }));
    say(msg, `playing ✓ through the Service Worker (${path})`, 'ok');
    section.scrollIntoView({ behavior: 'smooth', block: 'nearest' });
  } catch (error) {
    denied(msg, 'Play', error, o);
  }
}

async function preview(o, msg) {
  const info = o.header;
  const total = plaintextLength(o.size, info.headerLength, info.chunkSize);
  const isImage = /^image\/(png|jpeg|gif|webp|svg\+xml|avif)$/.test(o.type ?? '');
  const want = Math.min(total, isImage ? 4 * 1024 * 1024 : 16 * 1024);
  const stats = { requests: 0, bytes: 0 };
  say(msg, 'fetching the first chunks…');
  try {
    // Ranged GETs through the URL the store gives (a presigned one in S3 mode), pinned to the
    // object's ETag; a counting fetch shows how little is read.
    const countingFetch = async (input, init) => {
      const response = await fetch(input, init);
      if (response.status === 206) {
        stats.requests++;
        stats.bytes += Number(response.headers.get('content-length') ?? 0);
      }
      return response;
    };
    const source = await rangeSourceOf(o.id, countingFetch);
    const bytes = await decryptRange(source, { keyring: decryptKeyring, offset: 0, length: want, expectContext: expectedContext(o) });
    const section = $('preview');
    section.hidden = false;
    $('preview-title').textContent = `Preview: ${o.name ?? o.id}`;
    $('preview-meta').textContent =
      `Plaintext bytes 0–${bytes.length} of ${formatBytes(total)}, from ${stats.requests} ranged reads totalling ${formatBytes(stats.bytes)} ` +
      `of a ${formatBytes(o.size)} object: only the header and the chunks covering the range were fetched and authenticated.`;
    const out = $('preview-body');
    if (isImage && bytes.length === total) {
      const url = URL.createObjectURL(new Blob([bytes], { type: o.type }));
      const img = h('img', { src: url, alt: `Decrypted preview of ${o.name ?? o.id}` });
      img.addEventListener('load', () => URL.revokeObjectURL(url));
      out.replaceChildren(img);
    } else if (looksLikeText(bytes)) {
      out.replaceChildren(h('pre', { 'data-kind': 'text', text: new TextDecoder().decode(bytes) + (bytes.length < total ? '\n…' : '') }));
    } else {
      out.replaceChildren(h('pre', { 'data-kind': 'hex', text: hexdump(bytes) }));
    }
    say(msg, `preview ✓ ${formatBytes(bytes.length)} decrypted from ${stats.requests} ranged reads`, 'ok');
    section.scrollIntoView({ behavior: 'smooth', block: 'nearest' });
  } catch (error) {
    denied(msg, 'Preview', error, o);
  }
}

function looksLikeText(bytes) {
  const sample = bytes.subarray(0, 4096);
  let odd = 0;
  for (const b of sample) if (b === 0 || (b < 9 && b !== 0)) odd++;
  return odd === 0;
}

async function rewrapObject(o, msg) {
  const session = api.currentSession();
  const destination = state.config.keys[session.user.tenant].alias;
  say(msg, 'rewrapping…');
  try {
    const read = api.rangeReader(o.id);
    const head = await read(0, envelopeHeadLength(await read(0, 8)));
    const before = await api.payloadDigest(o.id);
    // KMS ReEncrypt through the proxy: the data key never reaches the page.
    const out = await rewrapHeader(head, { client, destinationKeyId: destination });
    const newHeaderLength = 8 + new DataView(out.buffer, out.byteOffset, out.byteLength).getUint32(4);
    await api.putHeader(o.id, out.subarray(0, newHeaderLength));
    const after = await api.payloadDigest(o.id);
    const same = before.sha256 === after.sha256 && before.payloadBytes === after.payloadBytes;
    say(
      msg,
      same
        ? `rewrapped ✓ to the newest version of ${destination}; header ${before.headerLength} → ${after.headerLength} bytes; payload SHA-256 ${after.sha256.slice(0, 16)}… unchanged (${formatBytes(after.payloadBytes)})`
        : `rewrapped, but the payload digest changed (${before.sha256.slice(0, 12)}… → ${after.sha256.slice(0, 12)}…)`,
      same ? 'ok' : 'error',
    );
    msg.dataset.rewrap = same ? 'unchanged' : 'changed';
    const keep = msg.textContent;
    await refreshObjects();
    const row = document.querySelector(`.row-msg[data-for="${CSS.escape(o.id)}"]`);
    if (row) say(row, keep, same ? 'ok' : 'error');
  } catch (error) {
    denied(msg, 'Rewrap', error, o);
  }
}

// ── keys ─────────────────────────────────────────────────────────────────────────────────────

async function refreshKeys() {
  try {
    state.keys = await api.loadKeys();
    const list = $('key-list');
    list.replaceChildren(
      ...Object.entries(state.keys.keys).map(([tenant, k]) =>
        h(
          'div',
          { 'data-tenant': tenant },
          h('dt', {}, h('span', { class: `pill ${tenant}`, text: tenant }), ' ', h('code', { text: k.alias })),
          h('dd', { text: `AES-256 (SYMMETRIC_DEFAULT) · ${shortKey(k.arn)} · version ${k.rotations + 1}${k.rotations ? ` (${k.rotations} rotation${k.rotations > 1 ? 's' : ''}, last ${formatTime(new Date(k.lastRotation * 1000).toISOString())})` : ''}` }),
        ),
      ),
      h('div', {}, h('dt', {}, h('code', { text: state.keys.offline.alias })), h('dd', { text: `RSA-2048 · RSAES_OAEP_SHA_256 · ${shortKey(state.keys.offline.keyArn)} · public key used offline` })),
    );
  } catch (error) {
    notice(`Could not load keys: ${reason(error)}`, 'error');
  }
}

async function rotate() {
  const button = $('rotate');
  button.disabled = true;
  try {
    const r = await api.rotateKey();
    notice(`Rotated ${r.alias}: now at version ${r.rotations + 1}. Existing objects still decrypt (old versions are kept); rewrap one to move it to the new version.`, 'ok');
    await refreshKeys();
    await refreshObjects();
  } catch (error) {
    notice(`Rotation failed: ${reason(error)}`, 'error');
  } finally {
    button.disabled = api.currentSession()?.user.role !== 'uploader';
  }
}

// ── audit ────────────────────────────────────────────────────────────────────────────────────

function auditItem(entry, fresh) {
  const r = entry.record;
  const ctx = r.context ? Object.entries(r.context).map(([k, v]) => `${k}=${v}`).join(' ') : '';
  const key = r.keyId ? keyLabel(r.keyId) : '';
  return h(
    'li',
    { class: fresh ? 'fresh' : '', 'data-outcome': r.outcome, 'data-op': r.op, 'data-principal': r.principal ?? '' },
    h('div', { class: 'a-head' }, h('span', { class: 'a-op', text: `${r.op}` }), h('span', { class: `pill ${r.outcome}`, text: r.outcome })),
    h('div', {}, h('span', { text: `${formatTime(r.time)} · ${r.principal ?? 'anonymous'}` }), key ? h('span', { class: 'muted', text: ` · ${key}` }) : null),
    ctx ? h('div', { class: 'muted', text: ctx }) : null,
    r.outcome !== 'allow' ? h('div', { class: 'a-reason', text: `${r.errorType ?? ''}${r.reason ? `: ${r.reason}` : ''}` }) : r.statement ? h('div', { class: 'muted', text: `allowed by ${r.statement}` }) : null,
    h('div', { class: 'a-hash', text: `#${entry.seq} ${entry.hash.slice(0, 16)}…`, title: entry.hash }),
  );
}

function addAudit(entries, fresh) {
  const list = $('audit-list');
  for (const e of entries) {
    if (state.auditSeen.has(e.seq)) continue;
    state.auditSeen.add(e.seq);
    list.prepend(auditItem(e, fresh));
  }
  while (list.children.length > 200) list.lastElementChild.remove();
}

function showChain(v) {
  const el = $('chain');
  if (v.ok && v.count === 0) {
    el.className = 'chain';
    el.textContent = 'No KMS calls yet: each call through the proxy will appear here as it happens, allowed or denied.';
  } else if (v.ok) {
    el.className = 'chain ok';
    el.textContent = `Chain verified ✓ ${v.count} entr${v.count === 1 ? 'y' : 'ies'}, each line hashed with the one before (last ${v.lastHash.slice(0, 12)}…).`;
  } else {
    el.className = 'chain bad';
    el.textContent = `Chain broken at line ${v.line}: ${v.reason}`;
  }
  el.dataset.ok = String(v.ok);
  el.dataset.count = String(v.count);
}

let verifyTimer;
function scheduleVerify() {
  clearTimeout(verifyTimer);
  verifyTimer = setTimeout(async () => {
    try {
      showChain(await api.verifyAudit());
    } catch (error) {
      $('chain').textContent = `Could not verify: ${reason(error)}`;
    }
  }, 150);
}

async function startAudit() {
  try {
    const { entries, verify } = await api.loadAudit();
    addAudit(entries, false);
    showChain(verify);
  } catch (error) {
    $('chain').textContent = `Could not load the audit trail: ${reason(error)}`;
  }
  const events = new EventSource('/api/audit/stream');
  events.addEventListener('audit', (event) => {
    addAudit([JSON.parse(event.data)], true);
    scheduleVerify();
  });
  events.addEventListener('open', async () => {
    // Catch up on anything missed while disconnected.
    const last = Math.max(0, ...state.auditSeen);
    try {
      addAudit((await api.loadAudit(last)).entries, true);
    } catch {
      // next event will do
    }
  });
}

// ── start ────────────────────────────────────────────────────────────────────────────────────

async function main() {
  try {
    state.config = await api.loadConfig();
  } catch (error) {
    notice(`Cannot reach the dev server: ${reason(error)}`, 'error');
    return;
  }
  setupKeyrings();
  api.restoreSession();
  document.body.dataset.uploadMode = 'multipart';
  document.body.dataset.store = state.config.store;
  setupDrop();
  setupResume();
  $('refresh').addEventListener('click', refreshObjects);
  $('rotate').addEventListener('click', rotate);
  $('verify').addEventListener('click', scheduleVerify);
  $('preview-close').addEventListener('click', () => {
    $('preview').hidden = true;
    $('preview-body').replaceChildren();
  });
  onSessionChange();
  await Promise.all([refreshObjects(), refreshKeys(), startAudit(), startServiceWorker()]);
  document.body.dataset.ready = 'true';
}

main();
