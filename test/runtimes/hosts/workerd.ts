// workerd host: a module Worker. POST a request as JSON, get the response as JSON. workerd has no
// filesystem: fixtures come from the `fixtures` disk service (the repository, read-only), bound as
// FIXTURES in test/runtimes/workerd/suite.capnp.
import { type HostRequest, handle } from '../protocol.js';

interface Env {
  FIXTURES: { fetch(input: string): Promise<Response> };
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    if (request.method !== 'POST') return new Response('POST a request', { status: 405 });
    const body = (await request.json()) as HostRequest;
    const response = await handle(body, {
      runtime: 'workerd',
      async readText(path) {
        const res = await env.FIXTURES.fetch(`http://fixtures/${path}`);
        if (!res.ok) throw new Error(`fixture ${path}: HTTP ${res.status}`);
        return res.text();
      },
    });
    return Response.json(response);
  },
};
