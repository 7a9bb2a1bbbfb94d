/** `sealbox kms`: run the local KMS (AWS KMS JSON 1.1 API) on this machine. */
import { EXIT } from './exit.js';
import { parsePort, parseServerArgs, reportListenError, serveUntilSignal } from './shared/serve.js';

const HELP = `Usage: sealbox kms [options]

Runs the Sealbox local KMS: the AWS KMS JSON API for development and tests.

Options:
  --port <n>        port to listen on (default 4599; 0 picks a free one)
  --host <addr>     address to listen on (default 127.0.0.1)
  --data <dir>      data directory (default ./.sealbox/kms)
  --seed <file>     seed file (keys, aliases, policies) applied at start, idempotently
  --region <name>   default region (default us-east-1, or SEALBOX_KMS_REGION)
  --account <id>    default account (default 111122223333, or SEALBOX_KMS_ACCOUNT)
  --metrics         serve Prometheus metrics on GET /metrics (off by default)
  --metrics-token-env <VAR>
                    require \`Authorization: Bearer <token>\` on /metrics, the token read from
                    the environment variable VAR (kept out of the process list)
  --no-health       do not serve GET /healthz and GET /readyz (served by default; not
                    authenticated, not audited; /readyz checks the store and audit file
                    are writable)
  --admin <arn,…>   admin principals (globs) for the key-policy check at start (account roots
                    are admins already)
  -h, --help        this help

At start every key's policy is checked (as \`sealbox policy check --kind kms\` does; a key tagged
tenant=<name> must condition on the encryption context) and each finding is printed as a warning
on stderr. The server starts anyway.

Environment:
  SEALBOX_ROOT_KEY                 base64 32-byte root key (else <data>/root.key, created 0600)
  SEALBOX_KMS_ACCESS_KEY_ID        development credentials (else generated once per data dir)
  SEALBOX_KMS_SECRET_ACCESS_KEY
`;

export async function run(argv: string[]): Promise<number> {
  const values = parseServerArgs(
    'kms',
    argv,
    {
      port: { type: 'string' },
      host: { type: 'string' },
      data: { type: 'string' },
      seed: { type: 'string' },
      region: { type: 'string' },
      account: { type: 'string' },
      admin: { type: 'string' },
      metrics: { type: 'boolean' },
      'metrics-token-env': { type: 'string' },
      'no-health': { type: 'boolean' },
    },
    HELP,
  );
  if (typeof values === 'number') return values;
  const port = parsePort('kms', values.port, 4599);
  if (port === undefined) return EXIT.USAGE;
  const host = values.host ?? '127.0.0.1';
  const { startLocalKmsServer } = await import('../kms/index.js');
  const dataDir = values.data ?? '.sealbox/kms';
  let server;
  const options: Parameters<typeof startLocalKmsServer>[0] = { dataDir, port, host };
  try {
    if (values.seed !== undefined) options.seed = values.seed;
    if (values.region !== undefined) options.region = values.region;
    if (values.account !== undefined) options.account = values.account;
    if (values['no-health']) options.health = false;
    const tokenVar = values['metrics-token-env'];
    if (tokenVar !== undefined) {
      const token = process.env[tokenVar];
      if (!token) {
        console.error(`sealbox kms: --metrics-token-env ${tokenVar}: the variable is not set`);
        return EXIT.USAGE;
      }
      options.metrics = { token };
    } else if (values.metrics) options.metrics = true;
    server = await startLocalKmsServer(options);
  } catch (e) {
    reportListenError('kms', e, host, port);
    return EXIT.FAILURE;
  }
  // The key-policy check, before the banner (which tells scripts the server is up and takes signals).
  const { warnPolicy, commaList } = await import('../ops/policy-check.js');
  const admins = commaList(values.admin);
  for (const key of server.kms.keyPolicies()) {
    const check: Parameters<typeof warnPolicy>[3] = { kind: 'kms' };
    if (admins) check.adminPrincipals = admins;
    if (key.tags.tenant !== undefined) check.tenant = key.tags.tenant;
    warnPolicy('kms', `key ${key.aliases[0] ?? key.arn}`, key.policy, check);
  }
  console.log(
    [
      'Sealbox local KMS (development only)',
      `  endpoint   ${server.url}`,
      `  region     ${server.region}`,
      `  account    ${server.account}`,
      `  data       ${dataDir}`,
      `  audit      ${server.kms.auditPath ?? '(off)'}`,
      `  ops        ${options.health === false ? '' : `${server.url}/healthz ${server.url}/readyz `}${options.metrics ? `${server.url}/metrics${typeof options.metrics === 'object' ? ' (bearer token)' : ''}` : ''}`.trimEnd(),
      '',
      'Development credentials (AWS SDK / CLI):',
      `  AWS_ACCESS_KEY_ID=${server.credentials.accessKeyId}`,
      `  AWS_SECRET_ACCESS_KEY=${server.credentials.secretAccessKey}`,
      `  AWS_REGION=${server.region}`,
      `  AWS_ENDPOINT_URL_KMS=${server.url}`,
    ].join('\n'),
  );
  return serveUntilSignal('kms', () => server.close());
}
