// The header's CBOR subset: deterministic encoding, strict decoding, and agreement with cbor-x.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Decoder, Encoder } from 'cbor-x';
import { type CborValue, decodeCbor, encodeCbor } from '../../../src/sdk/format/cbor.js';
import { SealboxError } from '../../../src/sdk/errors.js';

const value: fc.Arbitrary<CborValue> = fc.letrec<{ v: CborValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.maxSafeNat(),
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.uint8Array({ maxLength: 300 }),
    fc.array(tie('v'), { maxLength: 4 }),
    fc
      .uniqueArray(fc.tuple(fc.oneof(fc.nat(1000), fc.string({ maxLength: 8 })), tie('v')), { maxLength: 4, selector: ([k]) => k })
      .map((entries) => new Map(entries)),
  ),
})).v;

const cborx = new Decoder({ mapsAsObjects: false, useRecords: false });

function expectFormatError(bytes: Uint8Array, what: string) {
  assert.throws(() => decodeCbor(bytes), (e: unknown) => e instanceof SealboxError && e.code === 'ERR_FORMAT', what);
}

test('encode → decode is the identity, and decode → encode gives back the same bytes', () => {
  fc.assert(
    fc.property(value, (v) => {
      const bytes = encodeCbor(v);
      const back = decodeCbor(bytes);
      assert.deepEqual(encodeCbor(back), bytes);
    }),
    { numRuns: 2000, seed: 20261123 },
  );
});

test('cbor-x decodes our encodings to the same values (differential)', () => {
  fc.assert(
    fc.property(value, (v) => {
      const ours = decodeCbor(encodeCbor(v));
      const theirs = cborx.decode(encodeCbor(v));
      assert.deepEqual(normalize(theirs), normalize(ours));
    }),
    { numRuns: 1000, seed: 7 },
  );
});

function normalize(v: unknown): unknown {
  if (v instanceof Uint8Array) return ['bytes', Array.from(v)];
  if (Array.isArray(v)) return v.map(normalize);
  if (v instanceof Map) return ['map', [...v].map(([k, x]) => [normalize(k), normalize(x)])];
  if (typeof v === 'bigint') return Number(v); // cbor-x gives 64-bit heads as BigInt
  return v;
}

test('shortest-form heads at every boundary', () => {
  const cases: [number, string][] = [
    [0, '00'], [23, '17'], [24, '1818'], [255, '18ff'], [256, '190100'], [65535, '19ffff'],
    [65536, '1a00010000'], [2 ** 32 - 1, '1affffffff'], [2 ** 32, '1b0000000100000000'], [Number.MAX_SAFE_INTEGER, '1b001fffffffffffff'],
  ];
  for (const [n, hex] of cases) {
    assert.equal(Buffer.from(encodeCbor(n)).toString('hex'), hex, `encoding of ${n}`);
    assert.equal(decodeCbor(Buffer.from(hex, 'hex')), n);
  }
  // The same values in longer forms are refused.
  for (const hex of ['1800', '1817', '190000', '1900ff', '1a0000ffff', '1b00000000ffffffff']) expectFormatError(Buffer.from(hex, 'hex'), hex);
  // A text string whose length (24) needs the one-byte form, encoded with the two-byte form.
  expectFormatError(Buffer.from('7900' + '18' + '61'.repeat(24), 'hex'), 'non-shortest text length');
});

test('strict decoding rejects what deterministic CBOR forbids', () => {
  const bad: Record<string, string> = {
    'indefinite array': '9f01ff',
    'indefinite bytes': '5f4101ff',
    'duplicate keys': 'a2010101 02'.replace(/ /g, '').replace('a20101010', 'a201010101'),
    'unsorted keys': 'a202010101',
    'negative integer': '20',
    'tag': 'c074323031332d30332d32315432303a30343a30305a',
    'float': 'fb3ff0000000000000',
    'simple true': 'f5',
    'null': 'f6',
    'reserved info 28': '1c',
    'truncated array': '8301',
    'trailing bytes': '0000',
    'invalid utf-8': '62c328',
    'length past end': '5affffffff00',
    'array count past end': '9affffffff',
    'map key not int/text': 'a14101 02'.replace(/ /g, ''),
    'too deep': '81'.repeat(12) + '00',
  };
  for (const [what, hex] of Object.entries(bad)) expectFormatError(Buffer.from(hex, 'hex'), what);
});

test('random bytes never throw anything but ERR_FORMAT, and what decodes re-encodes identically', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      let decoded: CborValue;
      try {
        decoded = decodeCbor(bytes);
      } catch (e) {
        assert.ok(e instanceof SealboxError && e.code === 'ERR_FORMAT', String(e));
        return;
      }
      assert.deepEqual(encodeCbor(decoded), bytes);
    }),
    { numRuns: 20000, seed: 42 },
  );
});

test('cbor-x in canonical mode encodes protected-header-shaped maps to the same bytes as ours', () => {
  const encoder = new Encoder({ mapsAsObjects: false, useRecords: false, tagUint8Array: false, variableMapSize: true });
  const header = new Map<number, CborValue>([[1, 1], [2, 16384], [3, new Map([['a', 'x'], ['tenant', 'acme']])]]);
  assert.deepEqual(Buffer.from(encodeCbor(header)), Buffer.from(encoder.encode(header)));
});
