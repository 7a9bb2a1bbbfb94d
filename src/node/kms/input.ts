/** Typed access to a KMS JSON request body, with AWS-style ValidationException messages. */
import { AwsError } from '../../edge/aws/errors.js';

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function lowerFirst(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/**
 * AWS's validation message: "1 validation error detected: Value 'X' at 'keySpec' failed to satisfy
 * constraint: Member must …". `value`: the offending value (null for a missing member; undefined
 * for a sensitive or binary one, which AWS leaves out: "Value at 'plaintext' …").
 */
export function constraint(name: string, what: string, value?: string | number | null): AwsError {
  const shown = value === undefined ? '' : value === null ? ' null' : ` '${value}'`;
  return new AwsError('ValidationException', `1 validation error detected: Value${shown} at '${lowerFirst(name)}' failed to satisfy constraint: ${what}`);
}

function wrongType(name: string, type: string): AwsError {
  return new AwsError('SerializationException', `Start of structure or map found where not expected, or wrong type for '${name}' (expected ${type})`);
}

export class Input {
  readonly body: Record<string, unknown>;
  constructor(body: Record<string, unknown>) {
    this.body = body;
  }

  has(name: string): boolean {
    return this.body[name] !== undefined && this.body[name] !== null;
  }

  str(name: string, opts: { required: true; min?: number; max?: number; enum?: readonly string[] }): string;
  str(name: string, opts?: { required?: false; min?: number; max?: number; enum?: readonly string[] }): string | undefined;
  str(name: string, opts: { required?: boolean; min?: number; max?: number; enum?: readonly string[] } = {}): string | undefined {
    const v = this.body[name];
    if (v === undefined || v === null) {
      if (opts.required) throw constraint(name, 'Member must not be null', null);
      return undefined;
    }
    if (typeof v !== 'string') throw wrongType(name, 'string');
    if (opts.min !== undefined && v.length < opts.min) throw constraint(name, `Member must have length greater than or equal to ${opts.min}`, v);
    if (opts.max !== undefined && v.length > opts.max) throw constraint(name, `Member must have length less than or equal to ${opts.max}`, v);
    if (opts.enum && !opts.enum.includes(v)) throw constraint(name, `Member must satisfy enum value set: [${opts.enum.join(', ')}]`, v);
    return v;
  }

  int(name: string, opts: { min?: number; max?: number } = {}): number | undefined {
    const v = this.body[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v)) throw wrongType(name, 'integer');
    if (opts.min !== undefined && v < opts.min) throw constraint(name, `Member must have value greater than or equal to ${opts.min}`, v);
    if (opts.max !== undefined && v > opts.max) throw constraint(name, `Member must have value less than or equal to ${opts.max}`, v);
    return v;
  }

  bool(name: string): boolean | undefined {
    const v = this.body[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') throw wrongType(name, 'boolean');
    return v;
  }

  blob(name: string, opts: { required: true; min?: number; max?: number }): Uint8Array;
  blob(name: string, opts?: { required?: false; min?: number; max?: number }): Uint8Array | undefined;
  blob(name: string, opts: { required?: boolean; min?: number; max?: number } = {}): Uint8Array | undefined {
    const v = this.body[name];
    if (v === undefined || v === null) {
      if (opts.required) throw constraint(name, 'Member must not be null', null);
      return undefined;
    }
    if (typeof v !== 'string' || !B64.test(v)) throw wrongType(name, 'base64 blob');
    const b = Buffer.from(v, 'base64');
    const bytes = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    if (opts.min !== undefined && bytes.length < opts.min) throw constraint(name, `Member must have length greater than or equal to ${opts.min}`);
    if (opts.max !== undefined && bytes.length > opts.max) throw constraint(name, `Member must have length less than or equal to ${opts.max}`);
    return bytes;
  }

  map(name: string): Record<string, string> | undefined {
    const v = this.body[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) throw wrongType(name, 'map');
    const out: Record<string, string> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (typeof x !== 'string') throw wrongType(`${name}.${k}`, 'string');
      // defineProperty for "__proto__": `out[k] = x` would set the prototype instead of adding the key.
      if (k === '__proto__') Object.defineProperty(out, k, { value: x, enumerable: true, writable: true, configurable: true });
      else out[k] = x;
    }
    return out;
  }

  list<T>(name: string, item: (x: unknown, i: number) => T): T[] | undefined {
    const v = this.body[name];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) throw wrongType(name, 'list');
    return v.map(item);
  }
}

export function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}
