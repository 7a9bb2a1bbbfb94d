/** Runs the sealbox CLI from source (as test/node/cli/serve.test.ts does): no build needed. */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

export async function cliScript(dir: string): Promise<string> {
  const script = join(dir, 'main.mts');
  await writeFile(script, `import { main } from ${JSON.stringify(join(ROOT, 'src/node/cli/main.ts'))};\nprocess.exitCode = await main(process.argv.slice(2));\n`);
  return script;
}

export function runCli(script: string, args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_NO_WARNINGS: '1' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}
