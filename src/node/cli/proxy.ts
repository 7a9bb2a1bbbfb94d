/**
 * `sealbox proxy --config proxy.json [--port 4600] [--host 127.0.0.1]`: the KMS proxy on Node.
 * The config file is documented in src/edge/proxy/config.ts and docs/PROXY.md.
 */
import { EXIT } from './exit.js';
import { parsePort, parseServerArgs, reportListenError, serveUntilSignal } from './shared/serve.js';

const HELP = `Usage: sealbox proxy --config proxy.json [--port 4600] [--host 127.0.0.1]

Runs the Sealbox KMS proxy: authenticates callers (JWT bearer tokens, SigV4 keys), applies the
policy, rate-limits, audits every call (hash-chained) and forwards allowed calls, re-signed with
SigV4, to the upstream KMS (AWS KMS, or \`sealbox start\`'s local KMS).

Options:
  -c, --config <file>  JSON config (upstream, auth, policy, cors, rateLimit, state, instanceId,
                       audit); required
  -p, --port <n>       port to listen on (default 4600; 0 picks a free one)
      --host <addr>    address to bind (default 127.0.0.1)
      --claims <a,b>   claim names your JWT issuer sets, for the policy check at start
  -h, --help           this help

Several instances share their replay cache and rate limits through Redis with
"state": { "redis": { "url": "redis://host:6379", "keyPrefix": "sealbox:" } } and name themselves in
their audit records with "instanceId" (docs/DEPLOYMENT.md).

At start the policy is checked (as \`sealbox policy check --kind proxy\` does) and each finding is
printed as a warning on stderr; the proxy starts anyway.

Secrets may come from the environment: upstream credentials from AWS_ACCESS_KEY_ID /
AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN when the file has none; "secretEnv" in auth.jwt and
"secretAccessKeyEnv" in auth.sigv4.keys name variables holding those secrets.`;

export async function run(argv: string[]): Promise<number> {
  const values = parseServerArgs(
    'proxy',
    argv,
    {
      config: { type: 'string', short: 'c' },
      port: { type: 'string', short: 'p' },
      host: { type: 'string' },
      claims: { type: 'string' },
    },
    HELP,
  );
  if (typeof values === 'number') return values;
  if (values.config === undefined) {
    console.error(`sealbox proxy: --config is required\n\n${HELP}`);
    return EXIT.USAGE;
  }
  const port = parsePort('proxy', values.port, 4600);
  if (port === undefined) return EXIT.USAGE;
  const host = values.host ?? '127.0.0.1';
  const { loadProxyConfig, startProxyServer } = await import('../proxy/node.js');
  let server;
  let config;
  try {
    config = await loadProxyConfig(values.config);
    server = await startProxyServer({ config, port, host });
  } catch (e) {
    reportListenError('proxy', e, host, port);
    return (e as Error).name === 'ProxyConfigError' ? EXIT.USAGE : EXIT.FAILURE;
  }
  const { warnPolicy, commaList } = await import('../ops/policy-check.js');
  const claims = commaList(values.claims);
  warnPolicy('proxy', 'policy', config.policy, claims ? { kind: 'proxy', claims } : { kind: 'proxy' });
  console.log(`Sealbox proxy: ${server.url}${server.auditPath ? `  (audit: ${server.auditPath})` : ''}`);
  return serveUntilSignal('proxy', () => server.close());
}
