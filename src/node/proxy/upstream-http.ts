/**
 * The Node proxy's upstream transport: SigV4 signed with node:crypto (synchronous, no threadpool
 * hop per HMAC) and sent over a keep-alive node:http(s) pool, instead of aws4fetch and undici's
 * `fetch` (WebCrypto promises, Request/Response objects and Web Streams per call). The answers
 * are the same; test/edge/proxy/transports.test.ts pins both paths to them.
 */
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { UpstreamExchange, UpstreamTransport } from '../../edge/proxy/config.js';
import { nodeSigV4Crypto } from '../kms/node-crypto.js';

export interface NodeUpstreamTransport extends UpstreamTransport {
  /** Closes the pooled connections (the proxy's close() calls it). */
  close(): void;
}

/** A transport with its own connection pool (`maxSockets` per upstream host, default 256). */
export function nodeUpstreamTransport(options: { maxSockets?: number } = {}): NodeUpstreamTransport {
  const maxSockets = options.maxSockets ?? 256;
  const http = new HttpAgent({ keepAlive: true, maxSockets });
  const https = new HttpsAgent({ keepAlive: true, maxSockets });
  let lastUrl = '';
  let target: { secure: boolean; hostname: string; port: string; path: string } | undefined;
  return {
    crypto: nodeSigV4Crypto,
    send(url, headers, body, signal) {
      if (url !== lastUrl || target === undefined) {
        const u = new URL(url);
        target = { secure: u.protocol === 'https:', hostname: u.hostname.replace(/^\[|\]$/g, ''), port: u.port, path: `${u.pathname}${u.search}` };
        lastUrl = url;
      }
      const { secure, hostname, port, path } = target;
      const attempt = (retried: boolean): Promise<UpstreamExchange> =>
        new Promise<UpstreamExchange>((resolve, reject) => {
          const request = (secure ? httpsRequest : httpRequest)(
            {
              hostname,
              ...(port === '' ? {} : { port }),
              path,
              method: 'POST',
              headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
              agent: secure ? https : http,
              signal,
            },
            (response) => {
              response.setEncoding('utf8');
              let text = '';
              response.on('data', (piece: string) => (text += piece));
              response.on('end', () => {
                const id = response.headers['x-amzn-requestid'];
                resolve({ status: response.statusCode ?? 0, requestId: typeof id === 'string' ? id : undefined, text });
              });
              response.on('error', reject);
            },
          );
          request.on('error', (error: NodeJS.ErrnoException) => {
            // A pooled connection the server closed while it sat idle fails as soon as it is used
            // (ECONNRESET / EPIPE, before any answer): send once more, on a fresh connection, as
            // Node's docs advise for pooled sockets. Had the KMS received the first copy, a second
            // KMS call is harmless (AWS SDKs retry them the same way).
            if (!retried && request.reusedSocket && !signal.aborted && (error.code === 'ECONNRESET' || error.code === 'EPIPE')) {
              attempt(true).then(resolve, reject);
            } else reject(error);
          });
          request.end(body);
        });
      return attempt(false);
    },
    close() {
      http.destroy();
      https.destroy();
    },
  };
}
