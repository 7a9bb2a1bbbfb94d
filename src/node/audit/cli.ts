/** The `sealbox audit report` and `sealbox audit watch` commands (argument handling and output). */
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../fs.js';
import { parseSince } from '../../edge/audit/records.js';
import { parseRules, RulesError, type WatchRules } from '../../edge/audit/rules.js';
import { EXIT } from '../cli/exit.js';
import { auditReport, formatReport } from './report.js';
import { formatAlert, watchAudit, type WatchState } from './watch.js';

export interface AuditFlags {
  json?: boolean;
  since?: string;
  by?: string;
  rules?: string;
  'max-denials'?: string;
  once?: boolean;
  'from-start'?: boolean;
  state?: string;
}

function since(text: string | undefined): number | undefined | false {
  if (text === undefined) return undefined;
  const t = parseSince(text, Date.now());
  if (t === undefined) {
    console.error(`sealbox audit: --since takes an ISO time (2026-01-31T12:00:00Z) or a duration (30s, 15m, 2h, 7d), got '${text}'`);
    return false;
  }
  return t;
}

export async function report(files: string[], flags: AuditFlags): Promise<number> {
  const by = flags.by ?? 'principal';
  if (by !== 'principal' && by !== 'key' && by !== 'op') {
    console.error(`sealbox audit: --by must be principal, key or op (got '${by}')`);
    return EXIT.USAGE;
  }
  const t = since(flags.since);
  if (t === false) return EXIT.USAGE;
  let r;
  try {
    r = await auditReport(files, t === undefined ? {} : { since: t });
  } catch (e) {
    console.error(`sealbox audit: cannot read ${(e as { path?: string }).path ?? 'a file'}: ${(e as Error).message}`);
    return EXIT.FAILURE;
  }
  if (flags.json) console.log(JSON.stringify(r, null, 2));
  else process.stdout.write(formatReport(r, by));
  for (const f of r.files) if (!f.ok) console.error(`sealbox audit: ${f.file}:${f.broken!.line}: chain broken: ${f.broken!.reason}`);
  return r.ok ? EXIT.OK : EXIT.INVALID_INPUT;
}

export async function watch(file: string, flags: AuditFlags): Promise<number> {
  let rules: WatchRules = {};
  try {
    if (flags.rules !== undefined) rules = parseRules(JSON.parse(await readFile(flags.rules, 'utf8')));
  } catch (e) {
    console.error(`sealbox audit: --rules ${flags.rules}: ${e instanceof RulesError || e instanceof SyntaxError ? e.message : (e as Error).message}`);
    return e instanceof RulesError || e instanceof SyntaxError ? EXIT.USAGE : EXIT.FAILURE;
  }
  if (flags['max-denials'] !== undefined) {
    const m = /^(\d+)(?:\/(\d+)s)?$/.exec(flags['max-denials']);
    if (!m) {
      console.error(`sealbox audit: --max-denials takes N or N/<seconds>s, e.g. 5/60s (got '${flags['max-denials']}')`);
      return EXIT.USAGE;
    }
    rules = { ...rules, maxDenials: Number(m[1]), ...(m[2] ? { windowSeconds: Number(m[2]) } : {}) };
  }
  const t = since(flags.since);
  if (t === false) return EXIT.USAGE;
  let state: WatchState | undefined;
  if (flags.state !== undefined) {
    try {
      state = JSON.parse(await readFile(flags.state, 'utf8')) as WatchState;
      if (state?.v !== 1 || state.file !== file) {
        console.error(`sealbox audit: --state ${flags.state} is for ${String(state?.file)}, not ${file}; starting afresh`);
        state = undefined;
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
        console.error(`sealbox audit: --state ${flags.state}: ${(e as Error).message}`);
        return EXIT.USAGE;
      }
    }
  }
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const result = await watchAudit({
      file,
      rules,
      once: flags.once === true,
      fromStart: flags['from-start'] === true,
      ...(t === undefined ? {} : { since: t }),
      signal: controller.signal,
      onAlert: (a) => console.log(flags.json ? JSON.stringify(a) : formatAlert(a)),
      log: (m) => console.error(`sealbox audit: ${m}`),
      ...(state ? { state } : {}),
    });
    if (flags.state !== undefined && result.state) await writeFileAtomic(flags.state, `${JSON.stringify(result.state)}\n`, 0o600);
    if (flags.once) {
      console.error(`sealbox audit: ${file}: ${result.verified} records verified, ${result.alerts} alert${result.alerts === 1 ? '' : 's'}`);
      return result.alerts > 0 ? EXIT.FINDINGS : EXIT.OK;
    }
    return EXIT.OK;
  } catch (e) {
    console.error(`sealbox audit: cannot read ${file}: ${(e as Error).message}`);
    return EXIT.FAILURE;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
