/**
 * `sealbox start`: the local KMS, the proxy and the demo page in one process (what `npm start`
 * runs). See src/devserver/server.ts.
 */
import { parseArgs } from 'node:util';
import { EXIT } from './main.js';

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
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        port: { type: 'string', short: 'p' },
        host: { type: 'string' },
        data: { type: 'string', short: 'd' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    console.error(`sealbox start: ${(e as Error).message}\n\n${HELP}`);
    return EXIT.USAGE;
  }
  if (values.help) {
    console.log(HELP);
    return EXIT.OK;
  }
  const port = values.port === undefined ? 8080 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`sealbox start: --port must be a number from 0 to 65535 (got '${values.port}')`);
    return EXIT.USAGE;
  }
  const host = values.host ?? '127.0.0.1';
  const dataDir = values.data ?? '.sealbox';

  const { startDevServer } = await import('../devserver/server.js');
  let server;
  try {
    server = await startDevServer({ port, host, dataDir, log: (m) => console.error(m) });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EADDRINUSE') {
      console.error(`sealbox start: port ${port} on ${host} is already in use (another \`npm start\`?). Stop it, or pick another port: npm start -- --port ${port === 8080 ? 9000 : port + 1}`);
    } else if (err.code === 'EACCES') {
      console.error(`sealbox start: not allowed to listen on ${host}:${port} (ports below 1024 need privileges); try --port 8080`);
    } else if (err.code === 'EADDRNOTAVAIL') {
      console.error(`sealbox start: ${host} is not an address of this machine`);
    } else {
      console.error(`sealbox start: ${err.message}`);
    }
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

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        console.error(`sealbox start: ${signal} again, exiting now`);
        process.exit(EXIT.FAILURE);
      }
      stopping = true;
      console.error(`\nsealbox start: ${signal}, shutting down…`);
      server.close().then(
        () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          console.error('sealbox start: stopped.');
          resolve(EXIT.OK);
        },
        (e: unknown) => {
          console.error(`sealbox start: error while stopping: ${(e as Error).message}`);
          resolve(EXIT.FAILURE);
        },
      );
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
