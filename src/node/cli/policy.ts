/** `sealbox policy check <policy.json>`: the policy analyzer (src/edge/policy/analyze.ts) on a file. */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { analyzePolicy, atLeast, formatFinding, SEVERITIES, type Severity } from '../../edge/policy/analyze.js';
import { commaList } from '../ops/policy-check.js';
import { EXIT } from './exit.js';

const HELP = `Usage: sealbox policy check <policy.json> [options]

Checks a proxy policy or a local KMS key policy for statements wider or deader than they read:
a wildcard principal allowed to decrypt, kms:* to non-admins, decrypt without an encryption-context
condition, NotPrincipal/NotAction with Allow, conditions that can never match (unknown keys or
operators), claims the JWT issuer does not set, statements shadowed by a Deny. The file may be a
policy document, or a proxy config (its "policy" is checked).

Options:
  --kind <proxy|kms>      which evaluator the policy is for (default: proxy for a proxy config, else kms)
  --claims <a,b,…>        claim names the JWT issuer sets (proxy): \${jwt:x} and jwt:x must be among them
  --admin <arn,…>         admin principals (globs), allowed kms:* and any context
  --tenant <name>         the key is this tenant's (kms): its policy must condition on the context
  --fail-on <severity>    exit ${EXIT.FINDINGS} when a finding is this severe or worse:
                          critical, high (default), medium, low, info
  --json                  print the findings as JSON: {"file","kind","findings":[{id,severity,sid,message,fix}]}
  -h, --help              this help

Exit codes: ${EXIT.OK} no finding at or above --fail-on (lesser ones are still printed);
${EXIT.FINDINGS} findings at or above --fail-on; ${EXIT.USAGE} bad arguments; ${EXIT.FAILURE} the file cannot be read.
`;

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        kind: { type: 'string' },
        claims: { type: 'string' },
        admin: { type: 'string' },
        tenant: { type: 'string' },
        'fail-on': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    console.error(`sealbox policy: ${(e as Error).message}\n\n${HELP}`);
    return EXIT.USAGE;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(HELP);
    return EXIT.OK;
  }
  const [sub, file, ...extra] = positionals;
  if (sub !== 'check' || file === undefined || extra.length > 0) {
    console.error(HELP);
    return EXIT.USAGE;
  }
  if (values.kind !== undefined && values.kind !== 'proxy' && values.kind !== 'kms') {
    console.error(`sealbox policy: --kind must be proxy or kms (got '${values.kind}')`);
    return EXIT.USAGE;
  }
  const failOn = (values['fail-on'] ?? 'high') as Severity;
  if (!SEVERITIES.includes(failOn)) {
    console.error(`sealbox policy: --fail-on must be one of ${SEVERITIES.join(', ')} (got '${failOn}')`);
    return EXIT.USAGE;
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    console.error(`sealbox policy: cannot read ${file}: ${(e as Error).message}`);
    return EXIT.FAILURE;
  }
  let doc: unknown = text;
  let kind = values.kind as 'proxy' | 'kms' | undefined;
  try {
    const json = JSON.parse(text) as Record<string, unknown>;
    // A proxy config: check its policy.
    if (json && typeof json === 'object' && !('Statement' in json) && 'policy' in json) {
      doc = json.policy;
      kind ??= 'proxy';
    }
  } catch {
    // Not JSON: the analyzer reports it as policy-invalid.
  }
  kind ??= 'kms';
  const options: Parameters<typeof analyzePolicy>[1] = { kind };
  const claims = commaList(values.claims);
  if (claims) options.claims = claims;
  const admins = commaList(values.admin);
  if (admins) options.adminPrincipals = admins;
  if (values.tenant !== undefined) options.tenant = values.tenant;
  const findings = analyzePolicy(doc, options);
  const failing = findings.filter((f) => atLeast(f.severity, failOn));
  if (values.json) {
    console.log(JSON.stringify({ file, kind, failOn, findings }, null, 2));
  } else if (findings.length === 0) {
    console.log(`${file}: no findings (${kind} policy)`);
  } else {
    for (const f of findings) console.log(formatFinding(f));
    const counts = SEVERITIES.map((s) => [s, findings.filter((f) => f.severity === s).length] as const).filter(([, n]) => n > 0);
    console.log(`${file}: ${findings.length} finding${findings.length === 1 ? '' : 's'} (${counts.map(([s, n]) => `${n} ${s}`).join(', ')}); ${failing.length} at or above ${failOn}`);
  }
  return failing.length > 0 ? EXIT.FINDINGS : EXIT.OK;
}
