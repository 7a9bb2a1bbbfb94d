// Runs in Chromium under a strict Content-Security-Policy (see test/packaging/csp.test.ts): loads the
// shipped browser bundle (dist/browser/sealbox.min.js) and makes round trips with raw AES and
// RSA-OAEP keys, then without crypto.subtle (which loads the lazy noble chunk). Plain JS, no
// inline script: the policy allows scripts from 'self' only, and no eval.
const violations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  violations.push(`${e.effectiveDirective} blocked ${e.blockedURI || '(inline/eval)'} at ${e.sourceFile}:${e.lineNumber}`);
});

async function text(path) {
  const res = await fetch(path);
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.text();
}

function same(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

globalThis.cspResult = (async () => {
  const result = { violations, steps: [] };
  try {
    if (new URLSearchParams(location.search).has('control')) {
      // The control: proves the policy is enforced and that a violation would be seen.
      try {
        new Function('return 1')();
        result.evalAllowed = true;
      } catch (e) {
        result.evalAllowed = false;
        result.evalError = e.name;
      }
    }
    const { encrypt, decrypt, RawAesKeyring, RsaOaepKeyring } = await import('/dist/browser/sealbox.min.js');
    const message = new Uint8Array(3 * 16384 + 100).map((_, i) => (i * 31) & 0xff);
    const aes = () => new RawAesKeyring({ keyName: 'csp', key: new Uint8Array(32).fill(9) });

    const envelope = await encrypt(message, { keyring: aes(), context: { page: 'csp' } });
    if (!same((await decrypt(envelope, { keyring: aes() })).plaintext, message)) throw new Error('AES round trip');
    result.steps.push('aes');

    const rsaEnvelope = await encrypt(message, { keyring: new RsaOaepKeyring({ publicKey: await text('/test/runtimes/fixtures/rsa-2048.spki.pem') }) });
    const rsaPrivate = new RsaOaepKeyring({ privateKey: await text('/test/runtimes/fixtures/rsa-2048.pkcs8.pem') });
    if (!same((await decrypt(rsaEnvelope, { keyring: rsaPrivate })).plaintext, message)) throw new Error('RSA round trip');
    result.steps.push('rsa');

    const real = globalThis.crypto;
    Object.defineProperty(globalThis, 'crypto', { value: { getRandomValues: (a) => real.getRandomValues(a) }, configurable: true, writable: true });
    try {
      const nobleEnvelope = await encrypt(message, { keyring: aes() });
      if (!same((await decrypt(envelope, { keyring: aes() })).plaintext, message)) throw new Error('noble decrypting a WebCrypto envelope');
      result.nobleEnvelopeLength = nobleEnvelope.length;
    } finally {
      Object.defineProperty(globalThis, 'crypto', { value: real, configurable: true, writable: true });
    }
    result.steps.push('noble');
    result.scripts = performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname);
  } catch (e) {
    result.error = String(e && e.stack ? e.stack : e);
  }
  // securitypolicyviolation events are dispatched as tasks: let any pending one arrive.
  await new Promise((resolve) => setTimeout(resolve, 200));
  return result;
})();
