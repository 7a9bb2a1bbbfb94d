/**
 * `sealbox start`: the local KMS, the proxy and the demo page in one process (what `npm start`
 * runs). See src/node/devserver/server.ts.
 */
import { EXIT } from './exit.js';
import { parsePort, parseServerArgs, reportListenError, serveUntilSignal } from './shared/serve.js';

const HELP = `Usage: sealbox start [--port 8080] [--host 127.0.0.1] [--data ./.sealbox]

Starts, in one process: the local KMS (seeded with a key per demo tenant and an RSA key for
offline encryption), the proxy in front of it (/kms), a ciphertext blob store (/blobs), demo
tokens (/api/token), and the demo page. Prints the page's URL. Data (keys, blobs, audit trail)
lives under --data and survives restarts. Ctrl-C stops it.

Options:
  -p, --port <n>     port to listen on (default 8080; 0 picks a free one)
      --host <addr>  address to bind (default 127.0.0.1: this machine only)
  -d, --data <dir>   data directory (default ./.sealbox)
  -h, --help         this help

With npm: npm start -- --port 9000`;

export async function run(argv: string[]): Promise<number> {
  const values = parseServerArgs(
    'start',
    argv,
    {
      port: { type: 'string', short: 'p' },
      host: { type: 'string' },
      data: { type: 'string', short: 'd' },
    },
    HELP,
  );
  if (typeof values === 'number') return values;
  const port = parsePort('start', values.port, 8080);
  if (port === undefined) return EXIT.USAGE;
  const host = values.host ?? '127.0.0.1';
  const dataDir = values.data ?? '.sealbox';

  const { startDevServer } = await import('../devserver/server.js');
  let server;
  try {
    server = await startDevServer({ port, host, dataDir, log: (m) => console.error(m) });
  } catch (e) {
    reportListenError('start', e, host, port, `another \`npm start\`? Stop it, or pick another port: npm start -- --port ${port === 8080 ? 9000 : port + 1}`);
    return EXIT.FAILURE;
  }

  console.log(`Sealbox demo: ${server.url}`);
  console.log(`  local KMS + proxy: ${server.url}kms    blobs: ${server.url}blobs    data: ${server.dataDir}`);
  if (!['127.0.0.1', '::1', 'localhost'].includes(host)) {
    console.error(
      `sealbox start: WARNING listening on ${host}: anyone who can reach this port can sign in as a demo user and use the demo keys. ` +
        'Browsers also keep crypto.subtle (and so the page) to https:// or localhost origins.',
    );
  }
  console.log('  Ctrl-C to stop.');

  return serveUntilSignal('start', () => server.close());
}
