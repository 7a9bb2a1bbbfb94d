/**
 * `sealbox audit report`: reads audit files (the proxy's or the local KMS's, or both), verifies each
 * file's chain while reading it, and summarises the events (src/edge/audit/report.ts). A file whose
 * chain breaks is reported up to the break (what verified), with the line and reason; nothing after
 * a break is counted.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { AuditAggregator, type AuditSummary, type Counts, type Group } from '../../edge/audit/report.js';
import { ChainVerifier, auditEvent } from '../../edge/audit/records.js';
import { nodeSha256 } from '../kms/node-crypto.js';

export interface FileResult {
  file: string;
  /** Lines whose hash and link verified. */
  verified: number;
  /** Verified records counted in the report (after --since; of a known shape). */
  counted: number;
  /** Verified records of neither the proxy's nor the KMS's shape. */
  unknown: number;
  ok: boolean;
  lastHash: string;
  /** Where the chain broke (1-based line), when it did. */
  broken?: { line: number; reason: string };
}

export interface AuditReport {
  since: string | null;
  files: FileResult[];
  ok: boolean;
  summary: AuditSummary;
}

export async function auditReport(files: string[], options: { since?: number; top?: number } = {}): Promise<AuditReport> {
  const agg = new AuditAggregator();
  const results: FileResult[] = [];
  for (const file of files) {
    const verifier = new ChainVerifier(nodeSha256);
    const result: FileResult = { file, verified: 0, counted: 0, unknown: 0, ok: true, lastHash: verifier.lastHash };
    const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
    let pendingEmpty = false;
    for await (const line of lines) {
      if (line === '') {
        pendingEmpty = true;
        continue;
      }
      if (pendingEmpty) {
        result.broken = { line: verifier.count + 1, reason: 'empty line' };
        break;
      }
      const v = await verifier.push(line);
      if (!v.ok) {
        result.broken = verifier.broken!;
        break;
      }
      const e = auditEvent(v.record);
      if (!e) {
        result.unknown++;
        continue;
      }
      if (options.since !== undefined && !(e.ms >= options.since)) continue;
      agg.add(e);
      result.counted++;
    }
    lines.close();
    result.verified = verifier.count;
    result.lastHash = verifier.lastHash;
    result.ok = result.broken === undefined;
    results.push(result);
  }
  return { since: options.since === undefined ? null : new Date(options.since).toISOString(), files: results, ok: results.every((r) => r.ok), summary: agg.summary(options.top) };
}

const counts = (c: Counts) => `${c.calls} calls: ${c.allow} allowed, ${c.deny} denied, ${c.error} errors, ${c.throttled} throttled`;
const seen = (c: Counts) => (c.first === null ? '' : `first ${c.first}  last ${c.last}`);

function table(rows: Group[], extra: (g: Group) => string[] = () => []): string[] {
  const out: string[] = [];
  for (const g of rows) {
    out.push(`  ${g.name}: ${counts(g)}`);
    out.push(`    ${seen(g)}`);
    for (const l of extra(g)) out.push(`    ${l}`);
  }
  return out;
}

/** The report as text: the files and their chains, the totals, then the groups by `by`. */
export function formatReport(r: AuditReport, by: 'principal' | 'key' | 'op'): string {
  const out: string[] = [];
  for (const f of r.files) {
    out.push(
      f.ok
        ? `${f.file}: chain verified, ${f.verified} records (last hash ${f.lastHash})`
        : `${f.file}: CHAIN BROKEN at line ${f.broken!.line}: ${f.broken!.reason}; the report covers the ${f.verified} records before it`,
    );
    if (f.unknown > 0) out.push(`  (${f.unknown} verified records of an unknown shape skipped)`);
  }
  out.push('', `Totals${r.since ? ` since ${r.since}` : ''}: ${counts(r.summary.totals)}`);
  if (r.summary.totals.first !== null) out.push(`  ${seen(r.summary.totals)}`);
  if (by === 'principal') {
    out.push('', 'By principal (and the keys each used):');
    out.push(...table(r.summary.byPrincipal, (g) => (g as (typeof r.summary.byPrincipal)[number]).keys.map((k) => `key ${k.keyId}: ${k.calls}`)));
  } else if (by === 'key') {
    out.push('', 'By key (and its top principals):');
    out.push(
      ...table(r.summary.byKey, (g) => {
        const k = g as (typeof r.summary.byKey)[number];
        return [`${k.principals} principal${k.principals === 1 ? '' : 's'}; top: ${k.topPrincipals.map((p) => `${p.principal} (${p.calls})`).join(', ')}`];
      }),
    );
  } else {
    out.push('', 'By operation:');
    out.push(...table(r.summary.byOp));
  }
  return `${out.join('\n')}\n`;
}
