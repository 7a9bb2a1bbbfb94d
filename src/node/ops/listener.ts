/**
 * The operations endpoints on a node:http server: GET/HEAD requests for the ops paths (/healthz,
 * /readyz, /metrics) are answered here, before the service's own listener sees them; everything
 * else goes on to `inner`. Shared by the local KMS server and the Node proxy.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { OpsRoutes } from '../../edge/ops/routes.js';

export function opsListener(routes: OpsRoutes, inner: RequestListener): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? 'GET';
    if (method === 'GET' || method === 'HEAD') {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const answer = routes.answer(method, q < 0 ? url : url.slice(0, q), req.headers.authorization);
      if (answer) {
        answer.then(
          (a) => {
            a.headers['content-length'] = String(Buffer.byteLength(a.body));
            res.writeHead(a.status, a.headers);
            res.end(method === 'HEAD' ? undefined : a.body);
          },
          () => {
            res.writeHead(500, { 'content-type': 'application/json' });
            res.end('{"status":"fail"}');
          },
        );
        req.resume();
        return;
      }
    }
    inner(req, res);
  };
}
