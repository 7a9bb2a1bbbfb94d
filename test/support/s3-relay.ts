// A loopback HTTP relay in front of a real S3 (Ceph RGW): it forwards every request unchanged (the
// Host header too, so URLs presigned for the relay's address verify at RGW), counts the bytes it
// relays, and can inject real faults: an S3 error answer, or a connection reset mid-request.
import { createServer, request, Agent, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export type RelayFault = 'status503' | 'reset';

export interface RelayedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  status?: number;
  /** Response body bytes sent back to the client. */
  responseBytes: number;
  fault?: RelayFault;
}

export interface S3Relay {
  /** http://127.0.0.1:<port>: use it as the S3 endpoint when presigning. */
  url: string;
  requests: RelayedRequest[];
  /** Decides, per request, whether to fail it (called before anything is forwarded). */
  fault: ((req: IncomingMessage) => RelayFault | undefined) | undefined;
  /** Response body bytes relayed since the last reset(). */
  responseBytes(filter?: (r: RelayedRequest) => boolean): number;
  reset(): void;
  /** Runs `hook` before forwarding each request (e.g. to replace an object mid-read). */
  before: ((req: IncomingMessage) => Promise<void> | void) | undefined;
  stop(): Promise<void>;
}

export async function startS3Relay(upstream: string): Promise<S3Relay> {
  const target = new URL(upstream);
  const agent = new Agent({ keepAlive: true });
  const relay: S3Relay = {
    url: '',
    requests: [],
    fault: undefined,
    before: undefined,
    responseBytes: (filter = () => true) => relay.requests.filter(filter).reduce((sum, r) => sum + r.responseBytes, 0),
    reset() {
      relay.requests = [];
    },
    stop: async () => {
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = createServer(async (req, res) => {
    const record: RelayedRequest = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, responseBytes: 0 };
    relay.requests.push(record);
    const fault = relay.fault?.(req);
    if (fault) {
      record.fault = fault;
      if (fault === 'reset') {
        // Take a little of the body, then drop the connection: the client sees a network error.
        req.once('data', () => req.socket.destroy());
        req.once('end', () => req.socket.destroy());
        return;
      }
      req.resume();
      req.on('end', () => {
        record.status = 503;
        res.writeHead(503, { 'content-type': 'application/xml' });
        res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>injected by the test relay</Message></Error>');
      });
      return;
    }
    await relay.before?.(req);
    const up = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent },
      (upRes) => {
        record.status = upRes.statusCode;
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.on('data', (chunk: Buffer) => {
          record.responseBytes += chunk.length;
        });
        upRes.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  relay.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return relay;
}
