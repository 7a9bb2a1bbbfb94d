// Symmetric ciphertext blobs: the encoding of the encryption context (the AAD) against a direct
// transcription of its definition, and blobs checked with an AAD built from that definition.
import assert from 'node:assert/strict';
import { createDecipheriv, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { encodeContext, openBlob, parseBlob, sealBlob } from '../../../src/node/kms/blob.js';

/** The definition in blob.ts: entries sorted by key in UTF-8 byte order, each part u32 BE length-prefixed. */
function reference(context: Record<string, string>): Uint8Array {
  const enc = new TextEncoder();
  const entries = Object.entries(context).map(([k, v]) => [enc.encode(k), enc.encode(v)] as const);
  entries.sort((x, y) => Buffer.compare(Buffer.from(x[0]), Buffer.from(y[0])));
  const parts: Uint8Array[] = [u32(entries.length)];
  for (const [k, v] of entries) parts.push(u32(k.length), k, u32(v.length), v);
  return new Uint8Array(Buffer.concat(parts));
}
function u32(n: number): Uint8Array {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

const awkward: Array<Record<string, string>> = [
  {},
  { a: '' },
  { ab: 'c' },
  { a: 'bc' },
  { tenant: 'acme', purpose: 'backup', Tenant: 'x', 'a b': 'é' },
  { z: '1', 'é': '2', '\u00ff': '3', '\u0100': '4' },
  // U+E000..U+FFFF sorts before astral characters in UTF-8, after them in UTF-16 code units.
  { '\uE000': 'private', '\u{1F600}': 'emoji', '\uFFFD': 'replacement', '\uFFFF': 'last' },
  // Lone surrogates encode as U+FFFD.
  { '\uD800': 'lone high', x: '\uDC00', '\u{10000}': 'astral' },
  Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${(i * 7919) % 97}-${'ü'.repeat(i % 4)}`, 'v'.repeat(i)])),
];

test('encodeContext matches its definition (byte order, UTF-8, length prefixes)', () => {
  for (const c of awkward) assert.deepEqual([...encodeContext(c)], [...reference(c)], JSON.stringify(c));
  assert.deepEqual([...encodeContext(undefined)], [0, 0, 0, 0]);
  const proto = JSON.parse('{"__proto__":"p","a":"b"}') as Record<string, string>;
  assert.deepEqual([...encodeContext(proto)], [...reference(proto)]);
});

test('sealBlob authenticates header ‖ encodeContext(context) and openBlob checks it', () => {
  const key = randomBytes(32);
  for (const c of awkward) {
    const plaintext = randomBytes(32);
    const blob = sealBlob('1234abcd-12ab-34cd-56ef-1234567890ab', 3, key, plaintext, c);
    const p = parseBlob(blob)!;
    assert.equal(p.keyId, '1234abcd-12ab-34cd-56ef-1234567890ab');
    assert.equal(p.materialVersion, 3);
    assert.equal(blob.length, p.header.length + 32 + 16);
    // Decrypt by the definition, independently of blob.ts.
    const d = createDecipheriv('aes-256-gcm', key, p.iv);
    d.setAAD(Buffer.concat([p.header, reference(c)]));
    d.setAuthTag(p.tag);
    assert.deepEqual(Buffer.concat([d.update(p.ciphertext), d.final()]), plaintext);
    assert.deepEqual(Buffer.from(openBlob(p, key, c)!), plaintext);
    assert.equal(openBlob(p, key, { ...c, extra: '' }), undefined);
  }
});
