/**
 * The Node proxy's upstream transport: SigV4 signed with node:crypto (synchronous, no threadpool
 * hop per HMAC) and sent through an undici connection pool (keep-alive, `request` rather than
 * `fetch`: no Request/Response objects or Web Streams per call), instead of aws4fetch and `fetch`.
 * The answers are the same; test/edge/proxy/transports.test.ts pins both paths to them. An idle
 * connection is closed after undici's default keep-alive (4 s, or the server's `Keep-Alive` hint
 * less a second), before servers close theirs, so a call is not sent on a socket closing under it.
 */
import { Pool } from 'undici';
import type { UpstreamExchange, UpstreamTransport } from '../../edge/proxy/config.js';
import { nodeSigV4Crypto } from '../kms/node-crypto.js';

export interface NodeUpstreamTransport extends UpstreamTransport {
  /** Closes the pooled connections (the proxy's close() calls it). */
  close(): void;
}

/** A transport with its own connection pool (`maxSockets` connections per upstream origin, default 256). */
export function nodeUpstreamTransport(options: { maxSockets?: number } = {}): NodeUpstreamTransport {
  const connections = options.maxSockets ?? 256;
  const pools = new Map<string, Pool>();
  let lastUrl = '';
  let target: { pool: Pool; path: string } | undefined;
  return {
    crypto: nodeSigV4Crypto,
    async send(url, headers, body, signal): Promise<UpstreamExchange> {
      if (url !== lastUrl || target === undefined) {
        const u = new URL(url);
        let pool = pools.get(u.origin);
        if (pool === undefined) pools.set(u.origin, (pool = new Pool(u.origin, { connections })));
        target = { pool, path: `${u.pathname}${u.search}` };
        lastUrl = url;
      }
      const response = await target.pool.request({ path: target.path, method: 'POST', headers, body, signal });
      const text = await response.body.text();
      const id = response.headers['x-amzn-requestid'];
      return { status: response.statusCode, requestId: typeof id === 'string' ? id : undefined, text };
    },
    close() {
      for (const pool of pools.values()) void pool.destroy();
      pools.clear();
    },
  };
}
