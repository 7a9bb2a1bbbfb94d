/** What the Node servers (local KMS, proxy, dev server) share: listening, the URL they print, closing. */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/** Listens on `port` (0: a free one) and `host`; rejects with the listen error (EADDRINUSE, …). */
export function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** `host` as it goes in a URL: IPv6 addresses in brackets. */
export function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** The responses not yet finished, so that closing can end their connections once they are. */
export function trackResponses(server: Server): Set<ServerResponse> {
  const inFlight = new Set<ServerResponse>();
  server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
  });
  return inFlight;
}

/**
 * Stops taking connections, lets requests in flight finish (so what they changed is answered, and
 * their audit records are written before the audit file closes), ends their keep-alive connections
 * once they have answered, and cuts whatever is still open after `graceMs`.
 */
export async function closeGracefully(server: Server, inFlight: Set<ServerResponse>, graceMs: number): Promise<void> {
  await new Promise<void>((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
    for (const res of inFlight) {
      // Not yet answered: answer with `Connection: close`, so the socket ends with the response.
      if (!res.headersSent) res.setHeader('connection', 'close');
      // Answered already (a streamed body): its socket falls idle just after the response ends.
      res.once('close', () => setImmediate(() => server.closeIdleConnections()));
    }
  });
}

/**
 * Counts calls in progress, so that closing can wait for every one still running, whether or not
 * its client is still connected (a call cut off by a grace period still finishes its work).
 */
export class CallTracker {
  #running = 0;
  #idle: (() => void)[] = [];

  /** Returns `call` itself, counted until it settles. */
  track<T>(call: Promise<T>): Promise<T> {
    this.#running++;
    const done = () => {
      if (--this.#running === 0) for (const wake of this.#idle.splice(0)) wake();
    };
    call.then(done, done);
    return call;
  }

  /** Resolves once no tracked call is running. */
  settled(): Promise<void> {
    return this.#running === 0 ? Promise.resolve() : new Promise((resolve) => this.#idle.push(resolve));
  }
}

/** `headers.get` over an IncomingMessage (what the SigV4 verifier and the handler read). */
export class NodeHeaders {
  readonly #h: IncomingMessage['headers'];
  constructor(h: IncomingMessage['headers']) {
    this.#h = h;
  }
  get(name: string): string | null {
    const v = this.#h[name.toLowerCase()];
    return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
  }
}

/** The absolute URL of a request (`http://<host><path>`, or on localhost when that does not parse); remembers the last one. */
export class UrlCache {
  #host = '';
  #path: string | undefined = '';
  #url = '';
  url(host: string, path: string | undefined): string {
    if (host === this.#host && path === this.#path) return this.#url;
    let url = `http://${host}${path ?? '/'}`;
    if (!URL.canParse(url)) url = `http://localhost${path?.startsWith('/') ? path : '/'}`;
    this.#host = host;
    this.#path = path;
    this.#url = url;
    return url;
  }
}
