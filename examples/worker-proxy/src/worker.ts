// The Sealbox KMS proxy as a Cloudflare Worker with its state in a Durable Object.
// In your own project: `npm install sealbox`; this file and wrangler.jsonc are all you need.
import { createProxy, DurableObjectStateStore, SealboxStateObject, type DurableObjectNamespaceLike, type Proxy, type ProxyConfig } from 'sealbox/proxy';

// The Durable Object class must be exported by the main module, under the binding's class_name.
export { SealboxStateObject };

interface Env {
  /** The config without secrets: an object (wrangler.jsonc "vars") or a JSON string (`--var`, a secret). */
  SEALBOX_CONFIG: ProxyConfig | string;
  SEALBOX_STATE: DurableObjectNamespaceLike;
  AWS_ACCESS_KEY_ID: string;
  AWS_SECRET_ACCESS_KEY: string;
  AWS_SESSION_TOKEN?: string;
  JWT_SECRET?: string;
  [secret: string]: unknown;
}

let proxy: Proxy | undefined;

function configFrom(env: Env): ProxyConfig {
  const c = (typeof env.SEALBOX_CONFIG === 'string' ? JSON.parse(env.SEALBOX_CONFIG) : structuredClone(env.SEALBOX_CONFIG)) as ProxyConfig;
  c.upstream.credentials = {
    accessKeyId: env.AWS_ACCESS_KEY_ID,
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
    ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
  };
  if (c.auth.jwt && env.JWT_SECRET) c.auth.jwt.secret = env.JWT_SECRET;
  // Machine keys name the secret holding their secret access key.
  for (const k of c.auth.sigv4?.keys ?? []) {
    const name = (k as { secretAccessKeyEnv?: string }).secretAccessKeyEnv;
    if (name !== undefined) {
      k.secretAccessKey = String(env[name] ?? '');
      delete (k as { secretAccessKeyEnv?: string }).secretAccessKeyEnv;
    }
  }
  return c;
}

export default {
  fetch(request: Request, env: Env): Promise<Response> {
    proxy ??= createProxy({
      ...configFrom(env),
      // Replay cache and rate-limit buckets shared by every isolate of this Worker.
      state: new DurableObjectStateStore(env.SEALBOX_STATE),
      // Each isolate has its own audit chain (named by a random instance id) in the Worker's logs
      // (Workers Logs / Logpush); or pass a function that ships the lines elsewhere.
      audit: 'console',
    });
    return proxy.fetch(request);
  },
};
