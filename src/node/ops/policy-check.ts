/**
 * The policy analyzer (src/edge/policy/analyze.ts) as the servers use it at start: `sealbox proxy`
 * and `sealbox kms` print a warning line per finding, so a wide-open policy is never accepted
 * silently. Warnings only: the server still starts (run `sealbox policy check --fail-on` in CI to
 * refuse a policy).
 */
import { analyzePolicy, formatFinding, type AnalyzeOptions, type Finding } from '../../edge/policy/analyze.js';

/** Analyzes `policy` and prints each finding as `sealbox <command>: policy <label>: <finding>`; returns the findings. */
export function warnPolicy(command: string, label: string, policy: unknown, options: AnalyzeOptions, log: (line: string) => void = (l) => console.error(l)): Finding[] {
  const findings = analyzePolicy(policy, options);
  for (const f of findings) log(`sealbox ${command}: warning: ${label}: ${formatFinding(f)}`);
  return findings;
}

/** A comma-separated list flag (`--claims sub,tenant,role`), trimmed, empty entries dropped. */
export function commaList(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  return text.split(',').map((s) => s.trim()).filter((s) => s !== '');
}
