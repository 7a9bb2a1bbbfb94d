/** Runs the built CLI (`node bin/sealbox.js …`) as a child process, as a user would. */
import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, rmSync, statSync } from 'node:fs';
import { cp, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLocalKmsServer, type LocalKmsServer } from '../../../src/node/kms/index.js';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * The CLI under test: a snapshot of the built package (bin/, dist/, package.json, node_modules
 * linked), taken once per test file, so a concurrent `npm run build` in the same checkout (which
 * empties dist/ and rewrites it) cannot pull files from under a running test. The build writes the
 * browser bundle last, so a snapshot counts only if that bundle exists and did not change while
 * dist/ was copied.
 */
let binPath: Promise<string> | undefined;
const MARKER = join(ROOT, 'dist/browser/sealbox.min.js');

async function snapshotOnce(): Promise<string | undefined> {
  const before = existsSync(MARKER) ? statSync(MARKER).mtimeMs : undefined;
  if (before === undefined || !existsSync(join(ROOT, 'dist/node/cli/main.js'))) return undefined;
  const snapshot = await mkdtemp(join(tmpdir(), 'sealbox-cli-bin-'));
  try {
    await cp(join(ROOT, 'dist'), join(snapshot, 'dist'), { recursive: true });
    if (!existsSync(MARKER) || statSync(MARKER).mtimeMs !== before) throw new Error('dist/ changed while it was copied');
    await cp(join(ROOT, 'bin'), join(snapshot, 'bin'), { recursive: true });
    await cp(join(ROOT, 'package.json'), join(snapshot, 'package.json'));
    await symlink(join(ROOT, 'node_modules'), join(snapshot, 'node_modules'), 'dir');
  } catch {
    await rm(snapshot, { recursive: true, force: true });
    return undefined;
  }
  process.once('exit', () => rmSync(snapshot, { recursive: true, force: true }));
  return join(snapshot, 'bin/sealbox.js');
}

function bin(): Promise<string> {
  binPath ??= (async () => {
    for (let waited = 0; ; waited += 1000) {
      const path = await snapshotOnce();
      if (path) return path;
      if (waited >= 120_000) throw new Error('dist/ is missing or incomplete: run `npm run build` first (npm test does)');
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  return binPath;
}

export const EXIT = { OK: 0, FAILURE: 1, USAGE: 2, AUTH: 3, INVALID_INPUT: 4 } as const;

export interface RunResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** A clean environment: no AWS or Sealbox KMS settings leak in from the caller's shell. */
function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(AWS_|SEALBOX_)/.test(k)) env[k] = v;
  return env;
}

export async function sealbox(args: string[], options: { input?: Uint8Array | string; env?: Record<string, string>; cwd?: string } = {}): Promise<RunResult> {
  const path = await bin();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path, ...args], { cwd: options.cwd ?? ROOT, env: { ...baseEnv(), ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') }));
    child.stdin.on('error', () => {}); // the CLI may exit before reading all of stdin
    child.stdin.end(options.input ?? '');
  });
}

export async function workDir(): Promise<{ dir: string; path: (name: string) => string; files: () => Promise<string[]>; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'sealbox-cli-'));
  return {
    dir,
    path: (name) => join(dir, name),
    files: async () => (await readdir(dir)).sort(),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Writes an AES key file, an RSA key pair (PEM) and a 200 KB plaintext (13 chunks) into dir. */
export async function fixtures(dir: string): Promise<{ aes: string; aes2: string; rsaPublic: string; rsaPrivate: string; rsaPrivate2: string; plain: string; data: Buffer }> {
  const pair = () => generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  const rsa = pair();
  const other = pair();
  const data = randomBytes(200_000);
  const files = {
    aes: join(dir, 'aes.key'),
    aes2: join(dir, 'aes2.key'),
    rsaPublic: join(dir, 'rsa.pub.pem'),
    rsaPrivate: join(dir, 'rsa.pem'),
    rsaPrivate2: join(dir, 'other.pem'),
    plain: join(dir, 'plain.bin'),
  };
  await writeFile(files.aes, randomBytes(32));
  await writeFile(files.aes2, randomBytes(32));
  await writeFile(files.rsaPublic, rsa.publicKey);
  await writeFile(files.rsaPrivate, rsa.privateKey);
  await writeFile(files.rsaPrivate2, other.privateKey);
  await writeFile(files.plain, data);
  return { ...files, data };
}

export interface Kms {
  server: LocalKmsServer;
  url: string;
  /** Environment for the CLI: endpoint and credentials. */
  env: Record<string, string>;
  close(): Promise<void>;
}

/** A local KMS on 127.0.0.1:<free port>, in a temp dir. */
export async function startKms(): Promise<Kms> {
  const dir = await mkdtemp(join(tmpdir(), 'sealbox-cli-kms-'));
  const credentials = { accessKeyId: 'AKIDCLITEST', secretAccessKey: 'cli-test-secret' };
  const server = await startLocalKmsServer({
    dataDir: dir,
    port: 0,
    rootKey: Buffer.alloc(32, 9).toString('base64'),
    credentials: [credentials],
    env: {},
    audit: false,
    log: () => {},
  });
  return {
    server,
    url: server.url,
    env: { SEALBOX_KMS_ACCESS_KEY_ID: credentials.accessKeyId, SEALBOX_KMS_SECRET_ACCESS_KEY: credentials.secretAccessKey, SEALBOX_KMS_REGION: server.region },
    async close() {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Offset of the payload (salt onwards): 8 + the u32 header length. */
export function payloadOf(envelope: Uint8Array): Uint8Array {
  const view = new DataView(envelope.buffer, envelope.byteOffset, envelope.byteLength);
  return envelope.subarray(8 + view.getUint32(4));
}
