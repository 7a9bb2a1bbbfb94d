/** `sealbox inspect [file]`: an envelope's header, no key needed. */
import { inspect } from '../../sdk/envelope/inspect.js';
import { layoutFromCiphertextLength } from '../../sdk/payload/cobblestone.js';
import { parseCli, positionals } from './shared/args.js';
import { formatBytes } from './shared/format.js';
import { UsageError, report } from './shared/errors.js';
import { S3_HELP, S3_OPTIONS, hasS3Flags, isS3Url, parseS3Url } from './shared/s3.js';
import { openInput } from './shared/io.js';
import { EXIT } from './exit.js';

export const HELP = `Usage: sealbox inspect [options] [file]

Prints an envelope's header: format version, suite, chunk size, encryption context and
recipients (type, key id). Needs no key; reads only the header (from stdin when file is absent
or "-"; of an S3 object given as s3://bucket/key, with one ranged GET of its first 4 KiB, a
second only for a longer header). The context shown is as stored: it is authenticated only when the envelope is decrypted.

Options:
  --json       machine-readable output:
               { file, version, suite, chunkSize, headerLength, context: {k: v},
                 recipients: [{ type, typeId, keyId, wrappedKeyLength }],
                 size, plaintextLength, chunkCount }   (the last three null for stdin)
  -h, --help   this help

${S3_HELP}

Exit codes: 0 ok, 1 failure (S3: no such bucket or object…), 2 usage, 3 S3 refused the
credentials, 4 not a valid envelope header.`;

export interface InspectJson {
  file: string | null;
  version: number;
  suite: string;
  chunkSize: number;
  headerLength: number;
  context: Record<string, string>;
  recipients: { type: string; typeId: number; keyId: string; wrappedKeyLength: number }[];
  size: number | null;
  plaintextLength: number | null;
  chunkCount: number | null;
}

export async function run(argv: string[]): Promise<number> {
  try {
    const { values, positionals: args } = parseCli(argv, {
      ...S3_OPTIONS,
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      console.log(HELP);
      return EXIT.OK;
    }
    const [path] = positionals(args, 1, 'inspect takes one file');
    if (isS3Url(path)) {
      const { inspectS3 } = await import('./shared/s3-run.js');
      const object = await inspectS3(values, parseS3Url(path));
      const { header } = object;
      const info: InspectJson = {
        file: path,
        version: header.version,
        suite: header.suite,
        chunkSize: header.chunkSize,
        headerLength: header.headerLength,
        context: header.context,
        recipients: header.recipients.map((r) => ({ type: r.type, typeId: r.typeId, keyId: r.keyId, wrappedKeyLength: r.wrappedKeyLength })),
        size: object.size ?? null,
        plaintextLength: object.plaintextLength,
        chunkCount: object.chunkCount,
      };
      console.log(values.json ? JSON.stringify(info, null, 2) : table(info, object.layoutError));
      return EXIT.OK;
    }
    if (hasS3Flags(values)) throw new UsageError('--s3-* flags go with an s3://bucket/key');
    const input = await openInput(path);
    const header = await inspect(input.stream);
    let plaintextLength: number | null = null;
    let chunkCount: number | null = null;
    let layoutError: string | undefined;
    if (input.size !== undefined) {
      try {
        const layout = layoutFromCiphertextLength(input.size - header.headerLength, header.chunkSize);
        plaintextLength = layout.plaintextLength;
        chunkCount = layout.chunkCount;
      } catch (error) {
        layoutError = (error as Error).message;
      }
    }
    const info: InspectJson = {
      file: input.size !== undefined ? input.name : null,
      version: header.version,
      suite: header.suite,
      chunkSize: header.chunkSize,
      headerLength: header.headerLength,
      context: header.context,
      recipients: header.recipients.map((r) => ({ type: r.type, typeId: r.typeId, keyId: r.keyId, wrappedKeyLength: r.wrappedKeyLength })),
      size: input.size ?? null,
      plaintextLength,
      chunkCount,
    };
    if (values.json) {
      console.log(JSON.stringify(info, null, 2));
    } else {
      console.log(table(info, layoutError));
    }
    return EXIT.OK;
  } catch (error) {
    return report('inspect', error);
  }
}

function table(info: InspectJson, layoutError: string | undefined): string {
  const rows: [string, string][] = [];
  if (info.file !== null) rows.push(['file', info.file]);
  rows.push(['format', `v${info.version}, ${info.suite}`]);
  rows.push(['chunk size', `${info.chunkSize} (${formatBytes(info.chunkSize)})`]);
  rows.push(['header', `${info.headerLength} bytes`]);
  if (info.size !== null) rows.push(['size', `${info.size} bytes (${formatBytes(info.size)})`]);
  if (info.plaintextLength !== null) rows.push(['plaintext', `${info.plaintextLength} bytes (${formatBytes(info.plaintextLength)}) in ${info.chunkCount} chunks`]);
  if (layoutError) rows.push(['plaintext', `? (${layoutError})`]);
  const context = Object.entries(info.context);
  if (context.length === 0) rows.push(['context', '(none)']);
  context.forEach(([k, v], i) => rows.push([i === 0 ? 'context' : '', `${k}=${v}`]));
  rows.push(['recipients', String(info.recipients.length)]);
  const lines = rows.map(([k, v]) => `${k.padEnd(12)}${v}`);
  const head = ['#', 'type', 'key id', 'wrapped key'];
  const body = info.recipients.map((r, i) => [String(i + 1), r.type, r.keyId, `${r.wrappedKeyLength} bytes`]);
  const widths = head.map((h, c) => Math.max(h.length, ...body.map((row) => row[c]!.length)));
  for (const row of [head, ...body]) lines.push(`  ${row.map((cell, c) => (c === row.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ')}`);
  return lines.join('\n');
}
