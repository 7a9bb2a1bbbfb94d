/**
 * AWS Signature Version 4 verification for incoming requests (runtime-agnostic: WebCrypto,
 * `Uint8Array`, no Node imports), shared by the local KMS and the proxy (Workers, Deno, Bun, Node).
 *
 * Verifies header-signed requests (`Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…,
 * Signature=…` with `X-Amz-Date`), which is what every AWS SDK sends for KMS. Query-string presigned
 * requests (`X-Amz-Signature=…`) are rejected as unsupported (`IncompleteSignature`).
 *
 * Rules: the signing time must be within `maxSkewMs` (AWS: 5 minutes) of `now()`; the credential
 * scope's date must be the signing date; the scope must end in `aws4_request`; `host` must be signed;
 * when the request carries `x-amz-content-sha256` it must equal the body's hash (or be
 * `UNSIGNED-PAYLOAD` when `allowUnsignedPayload`); the signature is compared in constant time.
 * There is no replay cache: as in AWS, a signed request may be replayed within the skew window.
 */

export type SigV4ErrorCode =
  /** No Authorization header (AWS: MissingAuthenticationTokenException). */
  | 'MissingAuthenticationToken'
  /** Authorization header present but malformed or missing parts (AWS: IncompleteSignatureException). */
  | 'IncompleteSignature'
  /** Unknown access key id (AWS: UnrecognizedClientException). */
  | 'UnrecognizedClient'
  /** Signature does not match (AWS: InvalidSignatureException). */
  | 'InvalidSignature'
  /** Signing time outside the allowed skew (AWS answers InvalidSignatureException "Signature expired"). */
  | 'SignatureExpired';

/** AWS `__type` for each code (all are HTTP 400 in KMS). */
export const SIGV4_AWS_ERROR_TYPE: Record<SigV4ErrorCode, string> = {
  MissingAuthenticationToken: 'MissingAuthenticationTokenException',
  IncompleteSignature: 'IncompleteSignatureException',
  UnrecognizedClient: 'UnrecognizedClientException',
  InvalidSignature: 'InvalidSignatureException',
  SignatureExpired: 'InvalidSignatureException',
};

export class SigV4Error extends Error {
  readonly code: SigV4ErrorCode;
  /** The AWS error `__type` to answer with. */
  readonly awsType: string;
  constructor(code: SigV4ErrorCode, message: string) {
    super(message);
    this.name = 'SigV4Error';
    this.code = code;
    this.awsType = SIGV4_AWS_ERROR_TYPE[code];
  }
}

/** Crypto primitives; default WebCrypto. Node callers may inject synchronous `node:crypto` ones. */
export interface SigV4Crypto {
  sha256(data: Uint8Array): Uint8Array | Promise<Uint8Array>;
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array | Promise<Uint8Array>;
  /**
   * Optional synchronous shortcuts that answer in lowercase hex and take text as UTF-8 (node:crypto
   * does this natively: no encode, no hex loop, no promise). When present they are used instead.
   */
  sha256Hex?(data: Uint8Array | string): string;
  hmacSha256Hex?(key: Uint8Array, data: string): string;
}

export const webCryptoSigV4: SigV4Crypto = {
  async sha256(data) {
    return new Uint8Array(await crypto.subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>));
  },
  async hmacSha256(key, data) {
    const k = await crypto.subtle.importKey('raw', key as Uint8Array<ArrayBuffer>, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    return new Uint8Array(await crypto.subtle.sign('HMAC', k, data as Uint8Array<ArrayBuffer>));
  },
};

/**
 * What the verifier reads from a request: a WHATWG `Request` fits, and so does any object with these
 * members (servers that skip building `Request` objects pass a lighter one).
 */
export interface SigV4Request {
  method: string;
  /** Absolute URL (scheme and host are not signed; path and query are). */
  url: string;
  headers: { get(name: string): string | null };
}

export interface SigV4Secret {
  secretAccessKey: string;
  /** Anything the caller wants back in the result (principal ARN, account, …). */
  [extra: string]: unknown;
}

export interface VerifySigV4Options {
  /** Returns the secret for an access key id, or undefined when the key is unknown. */
  lookupSecret(accessKeyId: string): SigV4Secret | undefined | Promise<SigV4Secret | undefined>;
  /** Current time in ms since the epoch (default `Date.now`). */
  now?: () => number;
  /** Allowed clock skew in ms (default 5 minutes, as AWS). */
  maxSkewMs?: number;
  /** Accept only this service in the credential scope (e.g. `kms`). */
  service?: string;
  /** Accept `x-amz-content-sha256: UNSIGNED-PAYLOAD` (default false). */
  allowUnsignedPayload?: boolean;
  crypto?: SigV4Crypto;
  /** Cache of derived signing keys; pass one Map per server to reuse keys across requests. */
  signingKeyCache?: Map<string, Uint8Array>;
}

export interface SigV4Result {
  accessKeyId: string;
  /** Region from the credential scope. */
  region: string;
  service: string;
  /** Signing time (ms since the epoch). */
  signedAt: number;
  signedHeaders: string[];
  /** The verified signature (64 hex digits), as the one parser of the header read it: key replay caches on this. */
  signature: string;
  /** Session token when sent (not verified here). */
  securityToken?: string;
  /** What `lookupSecret` returned. */
  secret: SigV4Secret;
}

const encoder = new TextEncoder();
const hexTable = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function hex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += hexTable[bytes[i]!];
  return out;
}

function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** RFC 3986 unreserved characters stay; everything else is %XX (upper case), as AWS requires. */
const UNRESERVED = /^[A-Za-z0-9\-._~]*$/;

export function uriEncode(s: string, keepSlash = false): string {
  if (UNRESERVED.test(s)) return s;
  let out = '';
  for (const byte of encoder.encode(s)) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-._~]/.test(c) || (keepSlash && c === '/')) out += c;
    else out += `%${hexTable[byte]!.toUpperCase()}`;
  }
  return out;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function canonicalUri(pathname: string): string {
  // Non-S3 services: normalise the path, then encode each segment twice (the SDK encodes the
  // already-encoded path once more). `pathname` arrives encoded once.
  const segments = pathname.split('/').map(safeDecode);
  const out: string[] = [];
  for (const seg of segments) {
    if (seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  let path = out.join('/');
  if (!path.startsWith('/')) path = `/${path}`;
  if (path === '') path = '/';
  return path
    .split('/')
    .map((seg) => uriEncode(uriEncode(seg)))
    .join('/');
}

function canonicalQuery(search: string): string {
  if (search === '' || search === '?') return '';
  const pairs: Array<[string, string]> = [];
  for (const part of search.replace(/^\?/, '').split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const k = eq < 0 ? part : part.slice(0, eq);
    const v = eq < 0 ? '' : part.slice(eq + 1);
    pairs.push([uriEncode(safeDecode(k.replace(/\+/g, ' '))), uriEncode(safeDecode(v.replace(/\+/g, ' ')))]);
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

interface ParsedUrl {
  host: string;
  canonicalUri: string;
  canonicalQuery: string;
}

// A server sees the same few URLs over and over (KMS clients all POST to "/"): remember the last
// one's canonical parts instead of parsing and encoding it again for every request.
let lastUrl: string | undefined;
let lastParsed: ParsedUrl | undefined;

function parsedUrl(href: string): ParsedUrl {
  if (href === lastUrl && lastParsed !== undefined) return lastParsed;
  const url = new URL(href);
  const parsed: ParsedUrl = { host: url.host, canonicalUri: canonicalUri(url.pathname), canonicalQuery: canonicalQuery(url.search) };
  lastUrl = href;
  lastParsed = parsed;
  return parsed;
}

// Requests signed in the same second share their signing time: remember the last one's long date.
let lastSignedAt = NaN;
let lastLongDate = '';

/** `YYYYMMDD'T'HHMMSS'Z'` of a time (the form that is signed). */
function longDateOf(t: number): string {
  if (t === lastSignedAt) return lastLongDate;
  const iso = new Date(t).toISOString();
  lastLongDate = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  lastSignedAt = t;
  return lastLongDate;
}

/**
 * A header value that trimming and folding runs of whitespace into one space would change: space at
 * either end, two whitespace characters in a row, or whitespace other than a plain space.
 */
const NEEDS_FOLDING = /^\s|\s$|\s\s|[^\S ]/;

function parseAmzDate(s: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return undefined;
  const t = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  return Number.isNaN(t) ? undefined : t;
}

/**
 * What every AWS SDK sends: the three fields in this order, no stray whitespace inside a value.
 * A header of this shape parses to exactly what the general loop below would give.
 */
const USUAL_AUTHORIZATION = /^AWS4-HMAC-SHA256 Credential=([^,\s]+), ?SignedHeaders=([^,\s]+), ?Signature=([^,\s]+)$/;

const AUTHORIZATION_FIELDS = new Set(['Credential', 'SignedHeaders', 'Signature']);

/**
 * The one parser of the Authorization header: the signature it returns is both the one verified and
 * the one a replay cache keys on. Exactly the three fields, each once; anything else (a repeated
 * field, an unknown one such as a decoy `XSignature=`, an empty part) is refused, so no two readers
 * of one header can disagree about which signature it carries.
 */
export function parseAuthorization(value: string): { accessKeyId: string; scope: string[]; signedHeaders: string[]; signature: string } {
  const prefix = 'AWS4-HMAC-SHA256 ';
  if (!value.startsWith(prefix)) {
    throw new SigV4Error('IncompleteSignature', 'Authorization header must use the AWS4-HMAC-SHA256 algorithm');
  }
  let credential: string | undefined;
  let signedHeaders: string | undefined;
  let signature: string | undefined;
  const usual = USUAL_AUTHORIZATION.exec(value);
  if (usual) {
    [, credential, signedHeaders, signature] = usual;
  } else {
    const fields = new Map<string, string>();
    for (const part of value.slice(prefix.length).split(',')) {
      const p = part.trim();
      const eq = p.indexOf('=');
      const name = eq > 0 ? p.slice(0, eq) : p;
      if (eq <= 0 || !AUTHORIZATION_FIELDS.has(name)) {
        throw new SigV4Error('IncompleteSignature', `Authorization header has an unknown or malformed field '${name.slice(0, 32)}'`);
      }
      if (fields.has(name)) throw new SigV4Error('IncompleteSignature', `Authorization header has the field '${name}' more than once`);
      fields.set(name, p.slice(eq + 1));
    }
    credential = fields.get('Credential');
    signedHeaders = fields.get('SignedHeaders');
    signature = fields.get('Signature');
  }
  if (!credential || !signedHeaders || !signature) {
    throw new SigV4Error('IncompleteSignature', 'Authorization header requires Credential, SignedHeaders and Signature');
  }
  const parts = credential.split('/');
  if (parts.length !== 5 || parts.some((p) => p === '')) {
    throw new SigV4Error('IncompleteSignature', 'Credential must be <access key>/<date>/<region>/<service>/aws4_request');
  }
  if (!/^[0-9a-f]{64}$/.test(signature)) throw new SigV4Error('IncompleteSignature', 'Signature must be 64 lowercase hex digits');
  return { accessKeyId: parts[0]!, scope: parts.slice(1), signedHeaders: signedHeaders.split(';'), signature };
}

interface SignatureInput {
  method: string;
  url: ParsedUrl;
  /** Lowercase, sorted, unique. */
  signedHeaders: string[];
  /** The value of each signed header, in the same order. */
  headerValues: string[];
  payloadHash: string;
  longDate: string;
  region: string;
  service: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/**
 * The signature of a canonical request (lowercase hex): what a signer sends and a verifier compares.
 * One function for both, so signing and verification cannot drift apart.
 */
async function computeSignature(input: SignatureInput, c: SigV4Crypto, cache: Map<string, Uint8Array> | undefined): Promise<string> {
  let headerLines = '';
  for (let i = 0; i < input.signedHeaders.length; i++) {
    const value = input.headerValues[i]!;
    headerLines += `${input.signedHeaders[i]}:${NEEDS_FOLDING.test(value) ? value.trim().replace(/\s+/g, ' ') : value}\n`;
  }
  const canonical = `${input.method.toUpperCase()}\n${input.url.canonicalUri}\n${input.url.canonicalQuery}\n${headerLines}\n${input.signedHeaders.join(';')}\n${input.payloadHash}`;
  const scopeDate = input.longDate.slice(0, 8);
  const scopeString = `${scopeDate}/${input.region}/${input.service}/aws4_request`;
  const canonicalHash = c.sha256Hex ? c.sha256Hex(canonical) : hex(await c.sha256(encoder.encode(canonical)));
  const stringToSign = `AWS4-HMAC-SHA256\n${input.longDate}\n${scopeString}\n${canonicalHash}`;
  const cacheKey = `${input.accessKeyId}\n${input.secretAccessKey}\n${scopeString}`;
  let signingKey = cache?.get(cacheKey);
  if (signingKey === undefined) {
    let k = await c.hmacSha256(encoder.encode(`AWS4${input.secretAccessKey}`), encoder.encode(scopeDate));
    k = await c.hmacSha256(k, encoder.encode(input.region));
    k = await c.hmacSha256(k, encoder.encode(input.service));
    k = await c.hmacSha256(k, encoder.encode('aws4_request'));
    signingKey = k;
    if (cache) {
      if (cache.size > 1000) cache.clear();
      cache.set(cacheKey, k);
    }
  }
  return c.hmacSha256Hex ? c.hmacSha256Hex(signingKey, stringToSign) : hex(await c.hmacSha256(signingKey, encoder.encode(stringToSign)));
}

export interface SignSigV4Options {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  region: string;
  service: string;
  /** Signing time in ms since the epoch (default `Date.now()`). */
  now?: number;
  crypto?: SigV4Crypto;
  /** Cache of derived signing keys (one Map per signer: a key serves a whole day). */
  signingKeyCache?: Map<string, Uint8Array>;
}

/**
 * Signs a request with SigV4 in the Authorization header (what AWS SDKs send): returns the headers
 * to send, `host`, `x-amz-date`, `authorization` (and `x-amz-security-token`) added to `headers`,
 * every one of which is signed. Header names must be lowercase. The verifier above accepts exactly
 * what this produces (both compute the signature in `computeSignature`).
 */
export async function signSigV4(
  request: { method: string; url: string; headers: Record<string, string>; body: string | Uint8Array },
  options: SignSigV4Options,
): Promise<Record<string, string>> {
  const c = options.crypto ?? webCryptoSigV4;
  const url = parsedUrl(request.url);
  const longDate = longDateOf(Math.floor((options.now ?? Date.now()) / 1000) * 1000);
  const headers: Record<string, string> = { ...request.headers, host: url.host, 'x-amz-date': longDate };
  if (options.sessionToken !== undefined) headers['x-amz-security-token'] = options.sessionToken;
  const signedHeaders = Object.keys(headers).sort();
  const body = request.body;
  const payloadHash = c.sha256Hex ? c.sha256Hex(body) : hex(await c.sha256(typeof body === 'string' ? encoder.encode(body) : body));
  const signature = await computeSignature(
    {
      method: request.method,
      url,
      signedHeaders,
      headerValues: signedHeaders.map((h) => headers[h]!),
      payloadHash,
      longDate,
      region: options.region,
      service: options.service,
      accessKeyId: options.accessKeyId,
      secretAccessKey: options.secretAccessKey,
    },
    c,
    options.signingKeyCache,
  );
  const scope = `${longDate.slice(0, 8)}/${options.region}/${options.service}/aws4_request`;
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${options.accessKeyId}/${scope}, SignedHeaders=${signedHeaders.join(';')}, Signature=${signature}`;
  return headers;
}

/**
 * Verifies `request` (whose body bytes the caller has already read into `body`). Returns who signed
 * it and the scope; throws `SigV4Error` otherwise.
 */
export async function verifySigV4(request: SigV4Request, body: Uint8Array, options: VerifySigV4Options): Promise<SigV4Result> {
  const c = options.crypto ?? webCryptoSigV4;
  const auth = request.headers.get('authorization');
  if (auth === null) {
    const url = new URL(request.url);
    if (url.searchParams.has('X-Amz-Signature')) {
      throw new SigV4Error('IncompleteSignature', 'query-string (presigned) signatures are not supported');
    }
    throw new SigV4Error('MissingAuthenticationToken', 'Missing Authentication Token');
  }
  const { accessKeyId, scope, signedHeaders, signature } = parseAuthorization(auth);
  const [scopeDate, region, service, terminator] = scope as [string, string, string, string];
  if (terminator !== 'aws4_request') throw new SigV4Error('IncompleteSignature', 'Credential scope must end with aws4_request');
  if (options.service !== undefined && service !== options.service) {
    throw new SigV4Error('InvalidSignature', `Credential should be scoped to correct service: '${options.service}'`);
  }
  const amzDate = request.headers.get('x-amz-date') ?? '';
  let signedAt = parseAmzDate(amzDate);
  let dateHeaderName = 'x-amz-date';
  if (signedAt === undefined) {
    const dateHeader = request.headers.get('date');
    const t = dateHeader === null ? NaN : Date.parse(dateHeader);
    if (Number.isNaN(t)) throw new SigV4Error('IncompleteSignature', 'Authorization requires a valid X-Amz-Date or Date header');
    signedAt = t;
    dateHeaderName = 'date';
  }
  if (!signedHeaders.includes('host')) throw new SigV4Error('InvalidSignature', "'Host' must be a signed header");
  if (!signedHeaders.includes(dateHeaderName)) throw new SigV4Error('InvalidSignature', `'${dateHeaderName}' must be a signed header`);
  const longDate = longDateOf(signedAt);
  if (scopeDate !== longDate.slice(0, 8)) {
    throw new SigV4Error('InvalidSignature', `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${scopeDate}' != '${longDate.slice(0, 8)}'`);
  }
  const now = (options.now ?? Date.now)();
  const skew = options.maxSkewMs ?? 5 * 60 * 1000;
  if (Math.abs(now - signedAt) > skew) {
    throw new SigV4Error(
      'SignatureExpired',
      `Signature expired: ${longDate} is now outside the allowed window of ${Math.round(skew / 1000)} s around the server time`,
    );
  }
  const found = options.lookupSecret(accessKeyId);
  const secret = found instanceof Promise ? await found : found;
  if (secret === undefined) throw new SigV4Error('UnrecognizedClient', 'The security token included in the request is invalid.');

  const url = parsedUrl(request.url);
  for (let i = 1; i < signedHeaders.length; i++) {
    if (signedHeaders[i - 1]! >= signedHeaders[i]!) throw new SigV4Error('InvalidSignature', 'SignedHeaders must be lowercase, sorted and unique');
  }
  const headerValues: string[] = [];
  for (const name of signedHeaders) {
    let value = request.headers.get(name);
    if (value === null && name === 'host') value = url.host;
    if (value === null) throw new SigV4Error('InvalidSignature', `signed header '${name}' is missing from the request`);
    headerValues.push(value);
  }
  const bodyHash = c.sha256Hex ? c.sha256Hex(body) : hex(await c.sha256(body));
  const declared = request.headers.get('x-amz-content-sha256');
  let payloadHash = bodyHash;
  if (declared !== null) {
    if (declared === 'UNSIGNED-PAYLOAD' && options.allowUnsignedPayload) payloadHash = declared;
    else if (declared.toLowerCase() !== bodyHash) {
      throw new SigV4Error('InvalidSignature', 'The provided x-amz-content-sha256 header does not match what was computed.');
    }
  }
  const expected = await computeSignature(
    { method: request.method, url, signedHeaders, headerValues, payloadHash, longDate, region, service, accessKeyId, secretAccessKey: secret.secretAccessKey },
    c,
    options.signingKeyCache,
  );
  if (!constantTimeEqual(expected, signature)) {
    throw new SigV4Error(
      'InvalidSignature',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
    );
  }
  const result: SigV4Result = { accessKeyId, region, service, signedAt, signedHeaders, signature, secret };
  const token = request.headers.get('x-amz-security-token');
  if (token !== null) result.securityToken = token;
  return result;
}
