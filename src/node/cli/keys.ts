/** `sealbox keys <subcommand>`: KMS key management against AWS KMS or the local KMS. */
import { readFile } from 'node:fs/promises';
import type { KmsClient } from '../../sdk/client/kms-client.js';
import type { KeyMetadata } from '../../sdk/client/wire.js';
import { parseCli, parseIntFlag } from './shared/args.js';
import { UsageError, report } from './shared/errors.js';
import { openInput, readAll } from './shared/io.js';
import { kmsCall, kmsClient, kmsTarget, kmsType } from './shared/kms-call.js';
import { EXIT } from './exit.js';

export const HELP = `Usage: sealbox keys <subcommand> [options] --kms <url>

Manages KMS keys on AWS KMS or the Sealbox local KMS (same API).

Subcommands:
  create [--spec <spec>] [--usage <usage>] [--description <text>] [--alias <alias>]
                                  spec: SYMMETRIC_DEFAULT (default), RSA_2048, RSA_3072, RSA_4096,
                                  ECC_NIST_P256, ECC_NIST_P384, HMAC_256, …; usage: ENCRYPT_DECRYPT,
                                  SIGN_VERIFY, GENERATE_VERIFY_MAC (default: from the spec)
  list                            every key with its state, spec, usage and aliases
  describe <key>                  a key's metadata and aliases
  enable <key> | disable <key>
  rotate <key>                    rotate the key material now (RotateKeyOnDemand); old versions
                                  still decrypt; \`sealbox rewrap\` moves envelopes to the new one
  schedule-deletion <key> [--days <7..30>]   (default 30)
  cancel-deletion <key>           (the key is then disabled: \`keys enable\` it)
  alias <alias> <key>             create the alias, or point it at another key
  policy get <key>                print the key policy (JSON)
  policy put <key> [file]         set the key policy from a JSON file (or stdin)

<key> is a key id, key ARN, alias name (alias/x) or alias ARN.

Options:
  --kms <url>        KMS endpoint (or SEALBOX_KMS_ENDPOINT), e.g. http://127.0.0.1:4599 or
                     https://kms.eu-west-1.amazonaws.com
  --region <region>  signing region (default: from an AWS URL, else SEALBOX_KMS_REGION or AWS_REGION)
  --token <jwt>      bearer token instead of SigV4 (for a proxy; it allows few key operations)
  --json             machine-readable output (the KMS's own field names)
  -h, --help         this help
Credentials: SEALBOX_KMS_ACCESS_KEY_ID / SEALBOX_KMS_SECRET_ACCESS_KEY, else AWS_ACCESS_KEY_ID /
AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN.

Exit codes: 0 ok, 1 failure (including key not found), 2 usage, 3 auth (access denied, bad
credentials).`;

const OPTIONS = {
  kms: { type: 'string' },
  region: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  spec: { type: 'string' },
  usage: { type: 'string' },
  description: { type: 'string' },
  alias: { type: 'string' },
  days: { type: 'string' },
} as const;

const SUBCOMMAND_FLAGS: Record<string, string[]> = {
  create: ['spec', 'usage', 'description', 'alias'],
  'schedule-deletion': ['days'],
};

type Print = (human: string, json: unknown) => void;

export async function run(argv: string[]): Promise<number> {
  try {
    const { values, positionals: args } = parseCli(argv, OPTIONS);
    const [sub, ...rest] = args;
    if (values.help || sub === 'help') {
      console.log(HELP);
      return EXIT.OK;
    }
    if (sub === undefined) throw new UsageError('which subcommand? create, list, describe, enable, disable, rotate, schedule-deletion, cancel-deletion, alias, policy');
    for (const flag of ['spec', 'usage', 'description', 'alias', 'days'] as const) {
      if (values[flag] !== undefined && !SUBCOMMAND_FLAGS[sub]?.includes(flag)) throw new UsageError(`--${flag} does not go with \`keys ${sub}\``);
    }
    const client = kmsClient(kmsTarget(values));
    const print: Print = (human, json) => console.log(values.json ? JSON.stringify(json, null, 2) : human);
    const need = (count: number, names: string) => {
      if (rest.length !== count) throw new UsageError(`keys ${sub} takes ${names}`);
      return rest;
    };
    switch (sub) {
      case 'create':
        need(0, 'no arguments (use --spec, --usage, --description, --alias)');
        await create(client, values, print);
        break;
      case 'list':
        need(0, 'no arguments');
        await list(client, print);
        break;
      case 'describe':
        await describe(client, need(1, '<key>')[0]!, print);
        break;
      case 'enable':
      case 'disable': {
        const keyId = await resolveKeyId(client, need(1, '<key>')[0]!);
        await kmsCall(client, sub === 'enable' ? 'EnableKey' : 'DisableKey', { KeyId: keyId });
        print(`${sub === 'enable' ? 'enabled' : 'disabled'} ${keyId}`, { KeyId: keyId, Enabled: sub === 'enable' });
        break;
      }
      case 'rotate': {
        const keyId = await resolveKeyId(client, need(1, '<key>')[0]!);
        const out = await kmsCall(client, 'RotateKeyOnDemand', { KeyId: keyId });
        print(`rotation started for ${keyId}: new envelopes use the new key material; old ones still decrypt`, out);
        break;
      }
      case 'schedule-deletion': {
        const keyId = await resolveKeyId(client, need(1, '<key>')[0]!);
        const days = parseIntFlag(values.days, '--days', 7, 30) ?? 30;
        const out = await kmsCall<{ DeletionDate?: number }>(client, 'ScheduleKeyDeletion', { KeyId: keyId, PendingWindowInDays: days });
        const when = typeof out.DeletionDate === 'number' ? new Date(out.DeletionDate * 1000).toISOString() : `in ${days} days`;
        print(`${keyId} is pending deletion, deleted ${when}; \`sealbox keys cancel-deletion ${keyId}\` to keep it`, out);
        break;
      }
      case 'cancel-deletion': {
        const keyId = await resolveKeyId(client, need(1, '<key>')[0]!);
        const out = await kmsCall(client, 'CancelKeyDeletion', { KeyId: keyId });
        print(`deletion of ${keyId} cancelled; the key is disabled until \`sealbox keys enable ${keyId}\``, out);
        break;
      }
      case 'alias': {
        const [alias, key] = need(2, '<alias> <key>');
        await setAlias(client, aliasName(alias!), key!, print);
        break;
      }
      case 'policy':
        await policy(client, rest, print);
        break;
      default:
        throw new UsageError(`unknown subcommand '${sub}'`);
    }
    return EXIT.OK;
  } catch (error) {
    return report('keys', error);
  }
}

function aliasName(name: string): string {
  return name.startsWith('alias/') ? name : `alias/${name}`;
}

/** Key id for operations that take no alias (EnableKey, RotateKeyOnDemand…). */
async function resolveKeyId(client: KmsClient, key: string): Promise<string> {
  if (!key.startsWith('alias/') && !key.includes(':alias/')) return key;
  const { KeyMetadata } = await client.describeKey({ KeyId: key });
  return KeyMetadata.KeyId;
}

async function create(client: KmsClient, values: { spec?: string | undefined; usage?: string | undefined; description?: string | undefined; alias?: string | undefined }, print: Print): Promise<void> {
  const spec = (values.spec ?? 'SYMMETRIC_DEFAULT').toUpperCase();
  const usage = values.usage?.toUpperCase() ?? (spec.startsWith('ECC_') ? 'SIGN_VERIFY' : spec.startsWith('HMAC_') ? 'GENERATE_VERIFY_MAC' : 'ENCRYPT_DECRYPT');
  const input: Record<string, unknown> = { KeySpec: spec, KeyUsage: usage };
  if (values.description !== undefined) input.Description = values.description;
  const { KeyMetadata: meta } = await kmsCall<{ KeyMetadata: KeyMetadata }>(client, 'CreateKey', input);
  let alias: string | undefined;
  if (values.alias !== undefined) {
    alias = aliasName(values.alias);
    await kmsCall(client, 'CreateAlias', { AliasName: alias, TargetKeyId: meta.KeyId });
  }
  print(
    [`created ${meta.KeyId}`, `  arn    ${meta.Arn}`, `  spec   ${meta.KeySpec ?? spec} (${meta.KeyUsage ?? usage})`, ...(alias ? [`  alias  ${alias}`] : [])].join('\n'),
    { KeyMetadata: meta, ...(alias ? { AliasName: alias } : {}) },
  );
}

interface AliasEntry {
  AliasName: string;
  TargetKeyId?: string;
}

async function allPages<T>(client: KmsClient, operation: string, field: string): Promise<T[]> {
  const out: T[] = [];
  let marker: string | undefined;
  for (let page = 0; page < 1000; page++) {
    const res = await kmsCall<Record<string, unknown>>(client, operation, marker ? { Marker: marker } : {});
    out.push(...((res[field] as T[] | undefined) ?? []));
    if (!res.Truncated || typeof res.NextMarker !== 'string') break;
    marker = res.NextMarker;
  }
  return out;
}

async function aliasesByKey(client: KmsClient): Promise<Map<string, string[]>> {
  const byKey = new Map<string, string[]>();
  for (const a of await allPages<AliasEntry>(client, 'ListAliases', 'Aliases')) {
    if (!a.TargetKeyId) continue;
    byKey.set(a.TargetKeyId, [...(byKey.get(a.TargetKeyId) ?? []), a.AliasName]);
  }
  return byKey;
}

async function list(client: KmsClient, print: Print): Promise<void> {
  const keys = await allPages<{ KeyId: string; KeyArn: string }>(client, 'ListKeys', 'Keys');
  const aliases = await aliasesByKey(client);
  const rows = await Promise.all(
    keys.map(async (k) => {
      const meta = await client.describeKey({ KeyId: k.KeyId }).then((o) => o.KeyMetadata).catch(() => undefined);
      return {
        KeyId: k.KeyId,
        KeyArn: k.KeyArn,
        KeyState: meta?.KeyState,
        KeySpec: meta?.KeySpec,
        KeyUsage: meta?.KeyUsage,
        Description: (meta?.Description as string | undefined) ?? '',
        Aliases: aliases.get(k.KeyId) ?? [],
      };
    }),
  );
  const table = [['KEY ID', 'STATE', 'SPEC', 'USAGE', 'ALIASES', 'DESCRIPTION']];
  for (const r of rows) table.push([r.KeyId, r.KeyState ?? '?', r.KeySpec ?? '?', r.KeyUsage ?? '?', r.Aliases.join(',') || '-', r.Description]);
  const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
  const human = rows.length === 0 ? '(no keys)' : table.map((row) => row.map((cell, c) => (c === row.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ')).join('\n');
  print(human, { Keys: rows });
}

async function describe(client: KmsClient, key: string, print: Print): Promise<void> {
  const { KeyMetadata: meta } = await client.describeKey({ KeyId: key });
  const aliases = (await aliasesByKey(client).catch(() => new Map<string, string[]>())).get(meta.KeyId) ?? [];
  const rotation = meta.KeySpec === 'SYMMETRIC_DEFAULT'
    ? await kmsCall<{ KeyRotationEnabled?: boolean }>(client, 'GetKeyRotationStatus', { KeyId: meta.KeyId }).then((r) => r.KeyRotationEnabled).catch(() => undefined)
    : undefined;
  const lines: [string, unknown][] = [
    ['key id', meta.KeyId],
    ['arn', meta.Arn],
    ['state', meta.KeyState],
    ['spec', meta.KeySpec],
    ['usage', meta.KeyUsage],
    ['description', meta.Description || '-'],
    ['aliases', aliases.join(', ') || '-'],
    ['created', typeof meta.CreationDate === 'number' ? new Date(meta.CreationDate * 1000).toISOString() : undefined],
    ['deletion', typeof meta.DeletionDate === 'number' ? new Date(meta.DeletionDate * 1000).toISOString() : undefined],
    ['auto-rotate', rotation === undefined ? undefined : rotation ? 'on' : 'off'],
  ];
  const human = lines.filter(([, v]) => v !== undefined).map(([k, v]) => `${k.padEnd(12)}${String(v)}`).join('\n');
  print(human, { KeyMetadata: meta, Aliases: aliases, ...(rotation === undefined ? {} : { KeyRotationEnabled: rotation }) });
}

async function setAlias(client: KmsClient, alias: string, key: string, print: Print): Promise<void> {
  const keyId = await resolveKeyId(client, key);
  let created = true;
  try {
    await kmsCall(client, 'CreateAlias', { AliasName: alias, TargetKeyId: keyId });
  } catch (error) {
    if (kmsType(error) !== 'AlreadyExistsException') throw error;
    created = false;
    await kmsCall(client, 'UpdateAlias', { AliasName: alias, TargetKeyId: keyId });
  }
  print(`${alias} ${created ? '→' : 'now →'} ${keyId}`, { AliasName: alias, TargetKeyId: keyId, Created: created });
}

async function policy(client: KmsClient, args: string[], print: Print): Promise<void> {
  const [action, key, file, ...extra] = args;
  if (action !== 'get' && action !== 'put') throw new UsageError('keys policy get <key> | keys policy put <key> [file]');
  if (key === undefined || extra.length > 0 || (action === 'get' && file !== undefined)) {
    throw new UsageError(action === 'get' ? 'keys policy get takes <key>' : 'keys policy put takes <key> [file]');
  }
  const keyId = await resolveKeyId(client, key);
  if (action === 'get') {
    const out = await kmsCall<{ Policy?: string; PolicyName?: string }>(client, 'GetKeyPolicy', { KeyId: keyId, PolicyName: 'default' });
    let parsed: unknown = out.Policy;
    try {
      parsed = JSON.parse(out.Policy ?? 'null');
    } catch {
      // not JSON: shown as it is
    }
    print(typeof parsed === 'string' ? parsed : JSON.stringify(parsed, null, 2), { KeyId: keyId, PolicyName: out.PolicyName ?? 'default', Policy: parsed });
    return;
  }
  const text =
    file === undefined || file === '-'
      ? new TextDecoder().decode(await readAll((await openInput(undefined)).stream))
      : await readFile(file, 'utf8').catch((error: Error) => {
          throw new UsageError(`${file}: ${error.message}`);
        });
  try {
    JSON.parse(text);
  } catch (error) {
    throw new UsageError(`the policy is not JSON: ${(error as Error).message}`);
  }
  await kmsCall(client, 'PutKeyPolicy', { KeyId: keyId, PolicyName: 'default', Policy: text });
  print(`policy of ${keyId} replaced`, { KeyId: keyId, PolicyName: 'default' });
}
