/**
 * Forwarding to the upstream KMS (runtime-agnostic): the same code for AWS KMS and the local KMS.
 * Each call is a KMS JSON 1.1 request signed with SigV4 (`aws4fetch`) under the proxy's own
 * credentials, with a timeout (AbortController) covering the whole exchange.
 */
import { AwsClient } from 'aws4fetch';
import { DEFAULTS, type UpstreamConfig, type UpstreamExchange, type UpstreamTransport } from './config.js';
import { signSigV4, type SignSigV4Options } from '../aws/sigv4.js';
import type { SealboxMetrics } from '../ops/metrics.js';
import { AwsError } from '../aws/errors.js';
import { JSON_CONTENT_TYPE, kmsTarget } from '../aws/json-protocol.js';

/** The header the local KMS reads `kms:ViaService` from (src/node/kms/principals.ts). */
const VIA_SERVICE_HEADER = 'x-sealbox-via-service';

export interface UpstreamResult {
  status: number;
  /** The parsed JSON body (an object). */
  body: Record<string, unknown>;
  requestId: string | undefined;
}

/** The KMS endpoint for `region` on AWS (`https://kms.<region>.amazonaws.com`). */
export function awsKmsEndpoint(region: string): string {
  return `https://kms.${region}.${region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com'}`;
}

export class Upstream {
  readonly endpoint: string;
  readonly #client: AwsClient;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;
  readonly #viaService: string | undefined;
  readonly #transport: UpstreamTransport | undefined;
  readonly #signing: SignSigV4Options;
  readonly #metrics: SealboxMetrics | undefined;

  constructor(config: UpstreamConfig, metrics?: SealboxMetrics) {
    this.#metrics = metrics;
    this.endpoint = config.endpoint ?? awsKmsEndpoint(config.region);
    const { accessKeyId, secretAccessKey, sessionToken } = config.credentials;
    this.#client = new AwsClient({
      accessKeyId,
      secretAccessKey,
      ...(sessionToken === undefined ? {} : { sessionToken }),
      service: 'kms',
      region: config.region,
      retries: 0,
    });
    this.#timeoutMs = config.timeoutMs ?? DEFAULTS.timeoutMs;
    this.#fetch = config.fetch ?? ((input, init) => fetch(input, init));
    this.#viaService = config.viaService;
    this.#transport = config.transport;
    this.#signing = {
      accessKeyId,
      secretAccessKey,
      ...(sessionToken === undefined ? {} : { sessionToken }),
      region: config.region,
      service: 'kms',
      ...(config.transport?.crypto ? { crypto: config.transport.crypto } : {}),
      signingKeyCache: new Map(),
    };
  }

  /** One exchange through the configured transport, or aws4fetch and fetch. */
  async #exchange(op: string, body: string, signal: AbortSignal): Promise<UpstreamExchange> {
    const headers: Record<string, string> = {
      'content-type': JSON_CONTENT_TYPE,
      'x-amz-target': kmsTarget(op),
      // Signed with the rest, so the KMS can trust it from this credential.
      ...(this.#viaService === undefined ? {} : { [VIA_SERVICE_HEADER]: this.#viaService }),
    };
    if (this.#transport) {
      const signed = await signSigV4({ method: 'POST', url: this.endpoint, headers, body }, { ...this.#signing, now: Date.now() });
      return this.#transport.send(this.endpoint, signed, body, signal);
    }
    const signed = await this.#client.sign(this.endpoint, { method: 'POST', headers, body });
    const response = await this.#fetch(signed, { signal });
    return { status: response.status, requestId: response.headers.get('x-amzn-requestid') ?? undefined, text: await response.text() };
  }

  /** Calls `TrentService.<op>` with `input`; resolves with the upstream's status and JSON (success or KMS error). */
  async call(op: string, input: Record<string, unknown>): Promise<UpstreamResult> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.#timeoutMs);
    let exchange: UpstreamExchange;
    const t0 = this.#metrics ? performance.now() : 0;
    const took = () => (performance.now() - t0) / 1000;
    try {
      exchange = await this.#exchange(op, JSON.stringify(input), controller.signal);
    } catch (e) {
      this.#metrics?.upstream(op, took(), controller.signal.aborted ? 'DependencyTimeoutException' : 'NetworkError');
      if (controller.signal.aborted) {
        throw new AwsError('DependencyTimeoutException', `The KMS did not answer within ${this.#timeoutMs} ms.`, 503, {
          reason: `upstream ${op} timed out after ${this.#timeoutMs} ms`,
        });
      }
      throw new AwsError('KMSInternalException', 'The KMS could not be reached.', 500, { reason: `upstream ${op} failed: ${(e as Error).message}` });
    } finally {
      clearTimeout(timer);
    }
    const { status, requestId, text } = exchange;
    let body: unknown;
    try {
      body = text === '' ? {} : JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      this.#metrics?.upstream(op, took(), `HTTP${status}`);
      throw new AwsError('KMSInternalException', 'The KMS sent an answer the proxy cannot read.', 500, {
        reason: `upstream ${op} answered ${status} with a non-JSON body`,
      });
    }
    this.#metrics?.upstream(op, took(), status === 200 ? undefined : upstreamErrorType(body as Record<string, unknown>));
    return { status, body: body as Record<string, unknown>, requestId };
  }
}

/** The error `__type` of an upstream error body (`com.amazonaws.kms#NotFoundException` → `NotFoundException`). */
export function upstreamErrorType(body: Record<string, unknown>): string {
  const t = typeof body.__type === 'string' ? body.__type : 'KMSInternalException';
  return t.includes('#') ? t.slice(t.lastIndexOf('#') + 1) : t;
}

export function upstreamErrorMessage(body: Record<string, unknown>): string {
  const m = body.message ?? body.Message;
  return typeof m === 'string' ? m : 'The KMS refused the request.';
}

/** Errors that mean the upstream refused the proxy's own credentials: a proxy misconfiguration, not the caller's fault. */
const UPSTREAM_AUTH_ERRORS = new Set([
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'IncompleteSignatureException',
  'MissingAuthenticationTokenException',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
]);

/** The AwsError for an upstream error answer: passed through as the KMS said it, except for auth failures of the proxy itself (500). */
export function upstreamError(op: string, result: UpstreamResult): AwsError {
  const type = upstreamErrorType(result.body);
  const message = upstreamErrorMessage(result.body);
  if (UPSTREAM_AUTH_ERRORS.has(type)) {
    return new AwsError('KMSInternalException', 'The proxy could not authenticate to the KMS.', 500, {
      reason: `upstream ${op} refused the proxy's credentials: ${type}: ${message}`,
    });
  }
  const status = result.status >= 400 && result.status < 600 ? result.status : 500;
  return new AwsError(type, message, status, { reason: `upstream ${op}: ${type}: ${message}` });
}
