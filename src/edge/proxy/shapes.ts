/**
 * The KMS API shape of every request member the proxy forwards (runtime-agnostic). A request body is
 * checked against it right after JSON parsing, before authentication results, policy, the audit
 * record or the upstream call touch any member: a value of the wrong JSON type is a
 * `SerializationException`, a value of the right type outside its constraints (length, range, enum)
 * a `ValidationException`, as AWS KMS answers them. Nothing of unchecked shape reaches
 * `JSON.stringify` for the upstream, so no body, however deep, can make the proxy fail with a 5xx.
 *
 * Constraints are AWS KMS's documented ones: key ids 1–2048 characters, `NumberOfBytes` 1–1024,
 * `Plaintext` 1–4096 bytes, `CiphertextBlob` 1–6144 bytes, the enums of `DataKeySpec` and
 * `EncryptionAlgorithmSpec`. An encryption context must not hold two keys that are equal ignoring
 * case: policy condition keys are matched ignoring case, so such a context would make a decision
 * depend on the order of its keys.
 */
import { serialization, validation } from './errors.js';

type Shape =
  | { kind: 'string'; min: number; max: number; values?: readonly string[] }
  | { kind: 'blob'; min: number; max: number }
  | { kind: 'integer'; min: number; max: number }
  | { kind: 'boolean' }
  | { kind: 'context' }
  /** Checked in full by `parseEnvelope`: here only that it is an object. */
  | { kind: 'object' };

const KEY_ID: Shape = { kind: 'string', min: 1, max: 2048 };
const CONTEXT: Shape = { kind: 'context' };
const DRY_RUN: Shape = { kind: 'boolean' };
const ALGORITHM: Shape = { kind: 'string', min: 1, max: 64, values: ['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'SM2PKE'] };
const DATA_KEY: Record<string, Shape> = {
  KeyId: KEY_ID,
  EncryptionContext: CONTEXT,
  NumberOfBytes: { kind: 'integer', min: 1, max: 1024 },
  KeySpec: { kind: 'string', min: 1, max: 16, values: ['AES_256', 'AES_128'] },
  DryRun: DRY_RUN,
};

/** Request members accepted per operation; anything else is a ValidationException. */
export const REQUEST_SHAPES = {
  GenerateDataKey: DATA_KEY,
  GenerateDataKeyWithoutPlaintext: DATA_KEY,
  Encrypt: { KeyId: KEY_ID, Plaintext: { kind: 'blob', min: 1, max: 4096 }, EncryptionContext: CONTEXT, EncryptionAlgorithm: ALGORITHM, DryRun: DRY_RUN },
  Decrypt: {
    CiphertextBlob: { kind: 'blob', min: 1, max: 6144 },
    EncryptionContext: CONTEXT,
    KeyId: KEY_ID,
    EncryptionAlgorithm: ALGORITHM,
    DryRun: DRY_RUN,
    SealboxEnvelope: { kind: 'object' },
  },
  ReEncrypt: {
    CiphertextBlob: { kind: 'blob', min: 1, max: 6144 },
    SourceEncryptionContext: CONTEXT,
    SourceKeyId: KEY_ID,
    DestinationKeyId: KEY_ID,
    DestinationEncryptionContext: CONTEXT,
    SourceEncryptionAlgorithm: ALGORITHM,
    DestinationEncryptionAlgorithm: ALGORITHM,
    DryRun: DRY_RUN,
  },
  GetPublicKey: { KeyId: KEY_ID },
  DescribeKey: { KeyId: KEY_ID },
} satisfies Record<string, Record<string, Shape>>;

export type ShapedOperation = keyof typeof REQUEST_SHAPES;

/** Padded standard base64, which every AWS SDK sends for blobs. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const lowerFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);
const jsonType = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

function constraint(name: string, shown: string, rule: string) {
  return validation(`1 validation error detected: Value ${shown} at '${lowerFirst(name)}' failed to satisfy constraint: ${rule}`);
}

/** `shown` is what a message may quote of a value: short, and never a blob's bytes. */
const quote = (s: string) => `'${s.length > 64 ? `${s.slice(0, 64)}…` : s}'`;

function checkMember(op: string, name: string, shape: Shape, value: unknown): void {
  const wrongType = (expected: string) => serialization(`${op}: member '${name}' must be ${expected}, not ${jsonType(value)}.`);
  switch (shape.kind) {
    case 'string': {
      if (typeof value !== 'string') throw wrongType('a string');
      if (value.length < shape.min) throw constraint(name, quote(value), `Member must have length greater than or equal to ${shape.min}`);
      if (value.length > shape.max) throw constraint(name, quote(value), `Member must have length less than or equal to ${shape.max}`);
      if (shape.values && !shape.values.includes(value)) {
        throw constraint(name, quote(value), `Member must satisfy enum value set: [${shape.values.join(', ')}]`);
      }
      return;
    }
    case 'blob': {
      if (typeof value !== 'string') throw wrongType('a base64 string');
      if (!BASE64.test(value)) throw serialization(`${op}: member '${name}' is not valid base64.`);
      const bytes = (value.length / 4) * 3 - (value.endsWith('==') ? 2 : value.endsWith('=') ? 1 : 0);
      if (bytes < shape.min) throw constraint(name, 'at', `Member must have length greater than or equal to ${shape.min}`);
      if (bytes > shape.max) throw constraint(name, 'at', `Member must have length less than or equal to ${shape.max}`);
      return;
    }
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) throw wrongType('an integer');
      if (value < shape.min) throw constraint(name, `'${value}'`, `Member must have value greater than or equal to ${shape.min}`);
      if (value > shape.max) throw constraint(name, `'${value}'`, `Member must have value less than or equal to ${shape.max}`);
      return;
    case 'boolean':
      if (typeof value !== 'boolean') throw wrongType('a boolean');
      return;
    case 'object':
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw validation(`${op}: member '${name}' must be an object.`);
      return;
    case 'context': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw wrongType('a map of strings');
      const seen = new Map<string, string>();
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== 'string') throw serialization(`${op}: member '${name}' must map keys to strings; '${k.slice(0, 64)}' maps to ${jsonType(v)}.`);
        if (k.length === 0) throw validation(`${op}: member '${name}' has an empty key.`);
        checkContextKeyCase(seen, k, name);
      }
      return;
    }
  }
}

function checkContextKeyCase(seen: Map<string, string>, key: string, member: string): void {
  const lower = key.toLowerCase();
  const other = seen.get(lower);
  if (other !== undefined) {
    throw validation(
      `${member} has the keys '${other.slice(0, 64)}' and '${key.slice(0, 64)}', which are equal ignoring case; ` +
        'policy matches context keys ignoring case, so such a context is refused.',
    );
  }
  seen.set(lower, key);
}

/**
 * Refuses an encryption context with two keys equal ignoring case (ValidationException). For
 * contexts that did not come through `checkRequestShape` (an RSA envelope's protected header).
 */
export function checkContextKeys(context: Record<string, string>, member: string): void {
  const seen = new Map<string, string>();
  for (const k of Object.keys(context)) checkContextKeyCase(seen, k, member);
}

/** Checks every member of `input` against `op`'s shape; throws the AWS-style error of the first misfit. */
export function checkRequestShape(op: ShapedOperation, input: Record<string, unknown>): void {
  const shapes: Record<string, Shape> = REQUEST_SHAPES[op];
  for (const name of Object.keys(input)) {
    const shape = Object.prototype.hasOwnProperty.call(shapes, name) ? shapes[name] : undefined;
    if (shape === undefined) throw validation(`The proxy does not accept the member '${name.slice(0, 100)}' for ${op}.`);
    const value = input[name];
    // JSON null is how some clients say "absent"; the handlers treat it so.
    if (value !== null) checkMember(op, name, shape, value);
  }
}
