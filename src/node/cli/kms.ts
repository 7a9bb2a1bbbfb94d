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
  try {
    const options: Parameters<typeof startLocalKmsServer>[0] = { dataDir, port, host };
    if (values.seed !== undefined) options.seed = values.seed;
    if (values.region !== undefined) options.region = values.region;
    if (values.account !== undefined) options.account = values.account;
    server = await startLocalKmsServer(options);
  } catch (e) {
    reportListenError('kms', e, host, port);
    return EXIT.FAILURE;
  }
  console.log(
    [
      'Sealbox local KMS (development only)',
      `  endpoint   ${server.url}`,
      `  region     ${server.region}`,
      `  account    ${server.account}`,
      `  data       ${dataDir}`,
      `  audit      ${server.kms.auditPath ?? '(off)'}`,
      '',
      'Development credentials (AWS SDK / CLI):',
      `  AWS_ACCESS_KEY_ID=${server.credentials.accessKeyId}`,
      `  AWS_SECRET_ACCESS_KEY=${server.credentials.secretAccessKey}`,
      `  AWS_REGION=${server.region}`,
      `  AWS_ENDPOINT_URL_KMS=${server.url}`,
    ].join('\n'),
  );
  const { warnPolicy, commaList } = await import('../ops/policy-check.js');
  const admins = commaList(values.admin);
  for (const key of server.kms.keyPolicies()) {
    const options: Parameters<typeof warnPolicy>[3] = { kind: 'kms' };
    if (admins) options.adminPrincipals = admins;
    if (key.tags.tenant !== undefined) options.tenant = key.tags.tenant;
    warnPolicy('kms', `key ${key.aliases[0] ?? key.arn}`, key.policy, options);
  }
  return serveUntilSignal('kms', () => server.close());
}
