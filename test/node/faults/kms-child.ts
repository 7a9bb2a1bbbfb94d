// A local KMS process for the crash tests, started "warm": it loads every module first, then waits
// for one stdin line (the data dir) before opening the store and listening, so the test can keep a
// spare ready and restart the KMS right after a SIGKILL without paying the module load each time.
// Prints one JSON line { url } once listening.
import { createInterface } from 'node:readline';
import { startLocalKmsServer } from '../../../src/node/kms/index.js';

const rl = createInterface({ input: process.stdin });
const dataDir = await new Promise<string>((resolve) => rl.once('line', resolve));
rl.close();
const server = await startLocalKmsServer({ dataDir, port: 0, log: () => {} });
process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
