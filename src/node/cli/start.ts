/**
 * `sealbox start`: the local KMS, the proxy and the demo page in one process (what `npm start`
 * runs). See src/node/devserver/server.ts.
 */
import { EXIT } from './exit.js';
import { parsePort, parseServerArgs, reportListenError, serveUntilSignal } from './shared/serve.js';

const HELP = `Usage: sealbox start [--port 8080] [--host 127.0.0.1] [--data ./.sealbox]
                     [--s3-endpoint <url> --bucket <name>]

Starts, in one process: the local KMS (seeded with a key per demo tenant and an RSA key for
offline encryption), the proxy in front of it (/kms), a ciphertext blob store (/blobs), demo
tokens (/api/token), and the demo page. Prints the page's URL. Data (keys, blobs, audit trail)
lives under --data and survives restarts. Ctrl-C stops it.

Options:
  -p, --port <n>     port to listen on (default 8080; 0 picks a free one)
      --host <addr>  address to bind (default 127.0.0.1: this machine only)
  -d, --data <dir>   data directory (default ./.sealbox)
  --bucket <name>    store uploads in this S3 bucket instead (under sealbox-demo/): the page
                     uploads parts to presigned URLs and reads through presigned ranged GETs.
                     Credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (AWS SDK chain);
                     the page's CORS rule is added to the bucket at start (--no-bucket-cors:
                     don't; see docs/STORAGE.md for the rule)
  --s3-endpoint <url> an S3-compatible endpoint (default AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL)
  --s3-region <r>    default AWS_REGION
  -h, --help         this help

With npm: npm start -- --port 9000
          npm start -- --s3-endpoint http://127.0.0.1:9000 --bucket demo`;

export async function run(argv: string[]): Promise<number> {
  const values = parseServerArgs(
    'start',
    argv,
    {
      port: { type: 'string', short: 'p' },
      host: { type: 'string' },
      data: { type: 'string', short: 'd' },
      bucket: { type: 'string' },
      's3-endpoint': { type: 'string' },
      's3-region': { type: 'string' },
      'no-bucket-cors': { type: 'boolean' },
    },
    HELP,
  );
  if (typeof values === 'number') return values;
  const port = parsePort('start', values.port, 8080);
  if (port === undefined) return EXIT.USAGE;
  const host = values.host ?? '127.0.0.1';
  const dataDir = values.data ?? '.sealbox';

  const endpoint = values['s3-endpoint'] ?? (process.env.AWS_ENDPOINT_URL_S3 || undefined) ?? (process.env.AWS_ENDPOINT_URL || undefined);
  const region = values['s3-region'] ?? (process.env.AWS_REGION || undefined);
  if (values.bucket === undefined && (values['s3-endpoint'] !== undefined || values['s3-region'] !== undefined || values['no-bucket-cors'])) {
    console.error('sealbox start: --s3-endpoint, --s3-region and --no-bucket-cors go with --bucket <name>');
    return EXIT.USAGE;
  }
  let s3;
  if (values.bucket !== undefined) {
    const { loadS3 } = await import('./shared/s3.js');
    try {
      await loadS3();
    } catch (e) {
      console.error(`sealbox start: ${(e as Error).message}`);
      return EXIT.FAILURE;
    }
    s3 = { bucket: values.bucket, ...(endpoint ? { endpoint } : {}), ...(region ? { region } : {}), cors: !values['no-bucket-cors'] };
  }

  const { startDevServer } = await import('../devserver/server.js');
  let server;
  try {
    server = await startDevServer({ port, host, dataDir, log: (m) => console.error(m), ...(s3 ? { s3 } : {}) });
  } catch (e) {
    if (s3 && (e as { code?: string }).code === 'ERR_STORAGE') {
      console.error(`sealbox start: S3 bucket ${s3.bucket}: ${(e as Error).message}`);
      return EXIT.FAILURE;
    }
    reportListenError('start', e, host, port, `another \`npm start\`? Stop it, or pick another port: npm start -- --port ${port === 8080 ? 9000 : port + 1}`);
    return EXIT.FAILURE;
  }

  console.log(`Sealbox demo: ${server.url}`);
  console.log(`  local KMS + proxy: ${server.url}kms    blobs: ${s3 ? `s3://${s3.bucket}/sealbox-demo/ (${endpoint ?? 'AWS S3'})` : `${server.url}blobs`}    data: ${server.dataDir}`);
  if (!['127.0.0.1', '::1', 'localhost'].includes(host)) {
    console.error(
      `sealbox start: WARNING listening on ${host}: anyone who can reach this port can sign in as a demo user and use the demo keys. ` +
        'Browsers also keep crypto.subtle (and so the page) to https:// or localhost origins.',
    );
  }
  console.log('  Ctrl-C to stop.');

  return serveUntilSignal('start', () => server.close());
}
