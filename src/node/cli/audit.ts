/**
 * `sealbox audit verify|tail|report|watch`: check, show, summarise or watch hash-chained audit files
 * (the proxy's and the local KMS's). Several files given to verify (one per proxy instance, each its
 * own chain) are checked one by one; the same chain given twice (equal first lines) is an error,
 * since its records would count twice. The report and watch logic lives in src/node/audit/.
 */
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { verifyAuditChain } from '../../edge/audit/chain.js';
import { nodeSha256 } from '../kms/audit-file.js';
import { EXIT } from './exit.js';

const HELP = `Usage: sealbox audit <verify|tail|report|watch> <file>... [options]

  verify <file>...      check every line's hash and link in each file (one chain per file, e.g. one
                        per proxy instance); prints "ok, N records" and the instances each file
                        names, or the first bad line, and exits non-zero (${EXIT.INVALID_INPUT})
  tail <file> [-n N]    print the last N records (default 10), one line each
  report <files…>       calls, denials, errors and throttling grouped by principal, key or
                        operation, first/last seen, top principals per key, keys per principal;
                        verifies each file's chain while reading and says so
  watch <file>          follow the file (like tail -F: rotation and truncation handled) and print
                        an alert line per rule hit

Options:
  -n, --lines <N>       records to show with tail
  --json                tail: raw JSON lines; report: the report as JSON; watch: alerts as JSON lines
  --since <t>           report, watch: only records from t on (ISO time, or a duration back from
                        now: 30s, 15m, 2h, 7d); watch: earlier records are the baseline
  --by <g>              report: principal (default), key or op
  --rules <file.json>   watch: the rules (see docs/OPERATIONS.md); the flags below add to them
  --max-denials <N[/60s]>
                        watch: alert when a principal has more than N denials in the window
  --once                watch: read to the end and exit (for cron and CI)
  --from-start          watch: alert on the records already in the file too (default: baseline)
  --state <file.json>   watch: resume where the last run stopped (position, chain, what the rules
                        learnt) and save where this one stops: for cron with --once
  -h, --help            this help

Exit codes: ${EXIT.OK} fine; ${EXIT.INVALID_INPUT} verify/report: a chain does not verify (report still prints
what verified); ${EXIT.FINDINGS} watch --once: alerts were printed; ${EXIT.USAGE} bad arguments; ${EXIT.FAILURE} unreadable file.
`;

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        lines: { type: 'string', short: 'n' },
        json: { type: 'boolean' },
        since: { type: 'string' },
        by: { type: 'string' },
        rules: { type: 'string' },
        'max-denials': { type: 'string' },
        once: { type: 'boolean' },
        'from-start': { type: 'boolean' },
        state: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
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
  if (sub === 'report' && file !== undefined) return (await import('../audit/cli.js')).report([file, ...extra], values);
  if (sub === 'watch' && file !== undefined && extra.length === 0) return (await import('../audit/cli.js')).watch(file, values);
  if ((sub !== 'verify' && sub !== 'tail') || file === undefined || (sub === 'tail' && extra.length > 0)) {
    console.error(HELP);
    return EXIT.USAGE;
  }
  if (sub === 'verify') return verifyFiles([file, ...extra]);
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

/** Verifies each file as its own chain; one summary line per file, and a total for several. */
async function verifyFiles(files: string[]): Promise<number> {
  let failed = false;
  let total = 0;
  const firstLines = new Map<string, string>();
  for (const file of files) {
    const instances = new Set<string>();
    let first: string | undefined;
    let result;
    try {
      const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
      result = await verifyAuditChain(lines, nodeSha256, (record, n) => {
        if (typeof record.instance === 'string') instances.add(record.instance);
        if (n === 1) first = typeof record.prevHash === 'string' ? JSON.stringify(record) : undefined;
      });
    } catch (e) {
      console.error(`sealbox audit: cannot read ${file}: ${(e as Error).message}`);
      return EXIT.FAILURE;
    }
    const prefix = files.length > 1 ? `${file}: ` : '';
    if (!result.ok) {
      console.error(`${file}:${result.line}: ${result.reason} (${result.count} good records before it)`);
      failed = true;
      continue;
    }
    if (first !== undefined) {
      const same = firstLines.get(first);
      if (same !== undefined) {
        console.error(`${file}: the same chain as ${same} (a copy?): its records would count twice`);
        failed = true;
        continue;
      }
      firstLines.set(first, file);
    }
    total += result.count;
    const named = instances.size === 0 ? '' : `, instance${instances.size > 1 ? 's' : ''} ${[...instances].join(', ')}`;
    console.log(`${prefix}ok, ${result.count} records${named} (last hash ${result.lastHash})`);
  }
  if (failed) return EXIT.INVALID_INPUT;
  if (files.length > 1) console.log(`ok, ${files.length} files, ${total} records`);
  return EXIT.OK;
}
