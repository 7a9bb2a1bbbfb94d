// Resuming an upload after a reload. localStorage keeps what resumeUpload needs (upload id, head,
// which file); IndexedDB keeps, per upload, an RSA private key that cannot leave this browser
// (non-extractable CryptoKey), whose public half wrapped the data key as an extra recipient. It is
// deleted once the upload is stored, so the extra recipient then opens nothing.
import { RsaOaepKeyring } from '/sealbox/sealbox.min.js';

export const KEY_PREFIX = 'upload-resume:';
const ITEM = 'sealbox-demo-upload';
const DB = 'sealbox-demo';
const STORE = 'resume-keys';

function db() {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(DB, 1);
    open.onupgradeneeded = () => open.result.createObjectStore(STORE);
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
}

async function request(mode, run) {
  const conn = await db();
  try {
    return await new Promise((resolve, reject) => {
      const req = run(conn.transaction(STORE, mode).objectStore(STORE));
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  } finally {
    conn.close();
  }
}

/** A new key pair for upload `id`; its keyring wraps the data key for it. */
export async function newResumeKey(id) {
  const pair = await crypto.subtle.generateKey(
    { name: 'RSA-OAEP', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    false,
    ['encrypt', 'decrypt', 'wrapKey', 'unwrapKey'],
  );
  await request('readwrite', (store) => store.put(pair.privateKey, id));
  return { keyring: new RsaOaepKeyring({ publicKey: pair.publicKey, keyId: `${KEY_PREFIX}${id}` }) };
}

/** The keyring that unwraps upload `id`'s head (its private key from IndexedDB). */
export async function resumeKeyring(id) {
  const privateKey = await request('readonly', (store) => store.get(id));
  if (!privateKey) throw new Error('this browser no longer has the key to resume that upload');
  return new RsaOaepKeyring({ privateKey, keyId: `${KEY_PREFIX}${id}` });
}

const toBase64 = (bytes) => btoa(String.fromCharCode(...bytes));
const fromBase64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

export function save(upload) {
  localStorage.setItem(ITEM, JSON.stringify({ ...upload, head: toBase64(upload.head) }));
}

/** The upload under way when the page was last left, or null. */
export function saved() {
  try {
    const value = JSON.parse(localStorage.getItem(ITEM) ?? 'null');
    return value ? { ...value, head: fromBase64(value.head) } : null;
  } catch {
    return null;
  }
}

export async function forget(id) {
  if (saved()?.id === id) localStorage.removeItem(ITEM);
  await request('readwrite', (store) => store.delete(id)).catch(() => {});
}
