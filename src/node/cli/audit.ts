/** `sealbox audit verify|tail <file>`: check or show a hash-chained audit file. */
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { verifyAuditChain } from '../../edge/audit/chain.js';
import { nodeSha256 } from '../kms/audit-file.js';
import { EXIT } from './exit.js';

const HELP = `Usage: sealbox audit <verify|tail> <file> [options]

  verify <file>         check every line's hash and link; prints "ok, N records", or the first
                        bad line and exits non-zero (${EXIT.INVALID_INPUT})
  tail <file> [-n N]    print the last N records (default 10), one line each

Options:
  -n, --lines <N>       records to show with tail
  --json                tail: print the raw JSON lines
  -h, --help            this help
`;

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { lines: { type: 'string', short: 'n' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    console.error(`sealbox audit: ${(e as Error).message}\n\n${HELP}`);
    return EXIT.USAGE;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(HELP);
    return EXIT.OK;
  }
  const [sub, file, ...extra] = positionals;
  if ((sub !== 'verify' && sub !== 'tail') || file === undefined || extra.length > 0) {
    console.error(HELP);
    return EXIT.USAGE;
  }
  if (sub === 'verify') {
    let result;
    try {
      const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
      result = await verifyAuditChain(lines, nodeSha256);
    } catch (e) {
      console.error(`sealbox audit: cannot read ${file}: ${(e as Error).message}`);
      return EXIT.FAILURE;
    }
    if (result.ok) {
      console.log(`ok, ${result.count} records (last hash ${result.lastHash})`);
      return EXIT.OK;
    }
    console.error(`${file}:${result.line}: ${result.reason} (${result.count} good records before it)`);
    return EXIT.INVALID_INPUT;
  }
  const n = values.lines === undefined ? 10 : Number(values.lines);
  if (!Number.isInteger(n) || n < 1) {
    console.error('sealbox audit: --lines must be a positive integer');
    return EXIT.USAGE;
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    console.error(`sealbox audit: cannot read ${file}: ${(e as Error).message}`);
    return EXIT.FAILURE;
  }
  const lines = text.split('\n').filter((l) => l !== '').slice(-n);
  for (const line of lines) {
    if (values.json) {
      console.log(line);
      continue;
    }
    try {
      const r = JSON.parse(line) as Record<string, unknown>;
      const who = (r.userIdentity as { arn?: string } | null)?.arn ?? '-';
      const err = r.outcome === 'failure' ? ` ${String(r.errorCode)}` : '';
      console.log(`${String(r.eventTime)} ${String(r.eventName)} ${String(r.outcome)}${err} ${who} ${String(r.keyId ?? '-')} ${String(r.requestId)}`);
    } catch {
      console.log(line);
    }
  }
  return EXIT.OK;
}
