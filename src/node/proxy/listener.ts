/**
 * The proxy's node:http listener: reads the body into one buffer and calls the pipeline's
 * transport-neutral core (`Proxy.handle`), then writes its answer with one `res.end`. Building a
 * WHATWG Request and Response per call (what @hono/node-server does around `Proxy.fetch`) cost
 * about as much CPU as the rest of the pipeline; the answers are the same (test/edge/proxy/
 * transports.test.ts and the hostile suite run over both).
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Proxy, ProxyAnswer } from '../../edge/proxy/index.js';
import { AwsError, awsErrorParts } from '../../edge/aws/errors.js';
import { tooLargeError } from '../../edge/proxy/handler.js';
import { NodeHeaders, UrlCache } from '../http.js';


function send(res: ServerResponse, answer: ProxyAnswer): void {
  if (res.destroyed) return;
  const { headers } = answer;
  if (answer.body !== null) headers['content-length'] = String(Buffer.byteLength(answer.body));
  res.writeHead(answer.status, headers);
  res.end(answer.body ?? undefined);
}

/**
 * One request: the pipeline starts at once (it checks origin, method and target before it asks
 * for the body); `body(max)` resolves when the request ends, or refuses once `max` bytes passed.
 */
class ProxyCall {
  readonly #req: IncomingMessage;
  #chunks: Buffer[] = [];
  #size = 0;
  #max = Infinity;
  #ended = false;
  #failed: Error | undefined;
  #waiting: { resolve(b: Uint8Array): void; reject(e: Error): void } | undefined;

  constructor(req: IncomingMessage) {
    this.#req = req;
    req.on('data', (c: Buffer) => this.#onData(c));
    req.on('end', () => this.#onEnd());
    // The client went away before its body ended: the caller's doing (audited as a refusal), and
    // the call must end, or close() would wait for it forever.
    const cutOff = () => this.#fail(new AwsError('ValidationException', 'The request body was cut off.', 400, { reason: 'the client closed the connection inside the body' }));
    req.on('error', cutOff);
    req.on('close', () => {
      if (!this.#ended) cutOff();
    });
  }

  /** The answer is out: whatever else arrives is drained and dropped (an early refusal never read it). */
  answered(): void {
    this.#max = -1;
    this.#chunks = [];
  }

  #onData(c: Buffer): void {
    this.#size += c.length;
    if (this.#size > this.#max) {
      // Past the cap (or answered): keep draining, so the socket stays usable, but keep nothing.
      this.#chunks = [];
      if (this.#waiting) this.#fail(tooLargeError(this.#max));
      return;
    }
    this.#chunks.push(c);
  }

  #onEnd(): void {
    this.#ended = true;
    if (this.#waiting) this.#settle();
  }

  #fail(e: Error): void {
    this.#failed ??= e;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.reject(this.#failed);
  }

  #settle(): void {
    const waiting = this.#waiting!;
    this.#waiting = undefined;
    if (this.#failed) return waiting.reject(this.#failed);
    if (this.#size > this.#max) return waiting.reject(tooLargeError(this.#max));
    const body = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
    this.#chunks = [];
    waiting.resolve(new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
  }

  body(max: number): Promise<Uint8Array> {
    this.#max = max;
    const declared = this.#req.headers['content-length'];
    if (declared !== undefined && Number(declared) > max) return Promise.reject(tooLargeError(max));
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
      if (this.#failed || this.#size > max) this.#fail(this.#failed ?? tooLargeError(max));
      else if (this.#ended) this.#settle();
    });
  }
}

/** The listener; `track` sees each call's promise (so that closing can wait for its audit record). */
export function proxyListener(proxy: Proxy, track: <T>(call: Promise<T>) => Promise<T> = (c) => c): RequestListener {
  const urls = new UrlCache();
  return (req: IncomingMessage, res: ServerResponse) => {
    const call = new ProxyCall(req);
    const url = urls.url(req.headers.host ?? 'localhost', req.url);
    track(proxy.handle({ method: req.method ?? 'GET', url, headers: new NodeHeaders(req.headers), body: (max) => call.body(max) })).then(
      (answer) => {
        call.answered();
        send(res, answer);
      },
      () => {
        call.answered();
        // The pipeline answers its own failures; this is only for a bug in it.
        send(res, awsErrorParts(crypto.randomUUID(), new AwsError('KMSInternalException', 'internal error', 500)));
      },
    );
  };
}
