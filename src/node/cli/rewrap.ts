/** `sealbox rewrap <file>`: move an envelope to another key by rewriting its header only. */
import { stat } from 'node:fs/promises';
import { SealboxError } from '../../sdk/errors.js';
import { PREFIX_BYTES, resolveLimits } from '../../sdk/format/constants.js';
import { readPrefix } from '../../sdk/format/header.js';
import { envelopeHeadLength, rewrapHeader, type RewrapOptions } from '../../sdk/envelope/rewrap.js';
import { inspect, readAtLeast } from '../../sdk/envelope/inspect.js';
import { parseCli, positionals } from './shared/args.js';
import { UsageError, report } from './shared/errors.js';
import { openInput, openOutput } from './shared/io.js';
import { Progress } from './shared/progress.js';
import { KEY_HELP, KEY_OPTIONS, type KeyFlags, keyringFrom } from './shared/keys.js';
import { kmsClient, kmsTarget } from './shared/kms-call.js';
import { S3_HELP, S3_OPTIONS, hasS3Flags, isS3Url, parseS3Url } from './shared/s3.js';
import { EXIT } from './exit.js';

export const HELP = `Usage: sealbox rewrap [options] <file>

Moves an envelope to another key, or to a rotated key's newest version, by rewriting its header
only: the payload (salt, commitment, every chunk) stays byte for byte the same. The file is
rewritten in place, crash-safely (temp file, fsync, rename; its mode is kept), or written to -o.
Reads stdin when file is "-" (then the output goes to -o or stdout).

Two ways:
  KMS ReEncrypt     --kms <url> --to-key <id|alias> [--from-key <id|arn>]
                    The KMS re-encrypts the data key inside itself; the caller never sees it.
                    The kms recipients (of --from-key, default all) are replaced by one for
                    --to-key; other recipients (RSA, AES) are kept.
  keyring to keyring  source keys (as for decrypt) and destination keys:
                    --to-aes-key <file> [--to-aes-key-name <name>], --to-rsa-public <pem>
                    [--to-rsa-key-id <id>], --to-key <id|alias> (with --kms; repeatable)
                    The data key is unwrapped here, its commitment checked, and wrapped for the
                    destination keys, whose recipients replace ALL the old ones.
  --to-key alone (with only --kms/--from-key as source) means ReEncrypt.

S3 objects (s3://bucket/key): S3 cannot change an object's bytes in place, so rewrap writes a
new object under the same key (or under -o s3://bucket/key) from the new header and the
unchanged body. The old header is read with a ranged GET (4 KiB). A body of at most 16 MiB is
downloaded and written again with PutObject. A larger one becomes a multipart upload: part 1 is
the new header plus the body's first 5 MiB (downloaded and uploaded again, S3's minimum part
size), the rest is copied inside S3 with UploadPartCopy (256 MiB a part, pinned to the old
object's ETag): the cost is ~5 MiB of transfer and one request per 256 MiB, whatever the size.
The old object stays readable until the new one replaces it; the new one has a new ETag and the
default content type (metadata and tags are not copied; in a versioned bucket the old version
is kept as a noncurrent version).

Options:
  -o, --output <file>   write the rewrapped envelope here instead of in place (for an
                        s3:// input: another s3://bucket/key)
  --from-key <id|arn>   ReEncrypt only the kms recipients of this key
  -q, --quiet           print nothing on success, and no progress bar
  -h, --help            this help

Source keys (keyring to keyring):
${KEY_HELP.split('\n').slice(1).join('\n')}

${S3_HELP}

Exit codes: 0 ok, 1 failure (S3 errors too), 2 usage, 3 auth (no source key, KMS or S3 said no),
4 invalid input.

Examples:
  sealbox keys rotate alias/app --kms $URL && sealbox rewrap --kms $URL --to-key alias/app f.sbx
  sealbox rewrap --aes-key old.key --to-aes-key new.key --to-aes-key-name new -o f2.sbx f.sbx
  sealbox rewrap --kms $URL --to-key alias/app s3://backups/2026/db.dump.sbx`;

export async function run(argv: string[]): Promise<number> {
  try {
    const { values, positionals: args } = parseCli(argv, {
      ...KEY_OPTIONS,
      ...S3_OPTIONS,
      output: { type: 'string', short: 'o' },
      'to-key': { type: 'string', multiple: true },
      'from-key': { type: 'string' },
      'to-aes-key': { type: 'string', multiple: true },
      'to-aes-key-name': { type: 'string', multiple: true },
      'to-rsa-public': { type: 'string', multiple: true },
      'to-rsa-key-id': { type: 'string', multiple: true },
      quiet: { type: 'boolean', short: 'q' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      console.log(HELP);
      return EXIT.OK;
    }
    const [path] = positionals(args, 1, 'rewrap takes one file');
    if (path === undefined) throw new UsageError('which file? (use - for stdin)');

    const toKeys = values['to-key'] ?? [];
    const keyringDestination = (values['to-aes-key']?.length ?? 0) + (values['to-rsa-public']?.length ?? 0) > 0;
    const keyringSource = ['key', 'rsa-private', 'rsa-public', 'aes-key'].some((flag) => (values[flag as keyof KeyFlags]?.length ?? 0) > 0);
    let options: RewrapOptions;
    if (toKeys.length > 0 && !keyringDestination && !keyringSource) {
      if (toKeys.length > 1) throw new UsageError('ReEncrypt moves to one key: give --to-key once');
      const destinationKeyId = toKeys[0]!;
      options = { client: kmsClient(kmsTarget(values)), destinationKeyId, ...(values['from-key'] ? { sourceKeyId: values['from-key'] } : {}) };
    } else {
      if (values['from-key'] !== undefined) throw new UsageError('--from-key is for ReEncrypt (--kms with --to-key only)');
      if (toKeys.length === 0 && !keyringDestination) throw new UsageError('where to? give --to-key, --to-aes-key or --to-rsa-public');
      const keyring = await keyringFrom(values, 'rewrap');
      const newKeyring = await keyringFrom(
        {
          kms: values.kms,
          region: values.region,
          token: values.token,
          key: toKeys,
          'rsa-public': values['to-rsa-public'],
          'rsa-key-id': values['to-rsa-key-id'],
          'aes-key': values['to-aes-key'],
          'aes-key-name': values['to-aes-key-name'],
        },
        'encrypt',
      );
      options = { keyring, newKeyring };
    }

    if (isS3Url(path)) {
      if (values.output !== undefined && !isS3Url(values.output)) throw new UsageError('for an s3:// object, -o takes another s3://bucket/key');
      const location = parseS3Url(path);
      const to = values.output !== undefined ? parseS3Url(values.output) : location;
      const { rewrapS3, describeRewrap } = await import('./shared/s3-run.js');
      const result = await rewrapS3(values, location, to, options);
      if (!values.quiet) {
        const list = (info: typeof result.before) => info.recipients.map((r) => `${r.type}:${r.keyId}`).join(', ');
        process.stderr.write(
          `rewrapped ${to === location ? path : `${path} → ${to.url}`}: ${describeRewrap(result)}\n  from ${list(result.before)}\n  to   ${list(result.after)}\n`,
        );
      }
      return EXIT.OK;
    }
    if (isS3Url(values.output)) throw new UsageError('-o s3://… needs an s3:// input');
    if (hasS3Flags(values)) throw new UsageError('--s3-* flags go with an s3://bucket/key');
    const inPlace = values.output === undefined && path !== '-';
    const mode = inPlace ? (await stat(path)).mode & 0o7777 : undefined;
    const input = await openInput(path);
    const reader = input.stream.getReader();
    let output: Awaited<ReturnType<typeof openOutput>> | undefined;
    try {
      const prefix = await readAtLeast(reader, PREFIX_BYTES);
      readPrefix(prefix, resolveLimits()); // magic, version and header-size limit, before buffering the header
      const needed = envelopeHeadLength(prefix.subarray(0, PREFIX_BYTES));
      const buffered = await readAtLeast(reader, needed, prefix);
      if (buffered.length < needed) throw new SealboxError('ERR_TRUNCATED', 'the input ends inside its header, salt or commitment');
      const before = await inspect(buffered);
      const newHead = await rewrapHeader(buffered.subarray(0, needed), options);
      const after = await inspect(newHead);
      output = await openOutput(inPlace ? path : values.output, mode !== undefined ? { exactMode: mode } : {});
      const writer = output.writable.getWriter();
      const progress = new Progress('rewrap', input.size, !values.quiet && process.stderr.isTTY === true);
      await writer.write(newHead);
      progress.add(needed);
      if (buffered.length > needed) await writer.write(buffered.subarray(needed));
      progress.add(buffered.length - needed);
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        await writer.write(value);
        progress.add(value.length);
      }
      await writer.close();
      progress.finish();
      await output.commit();
      if (!values.quiet && !output.toStdout) {
        const list = (info: typeof before) => info.recipients.map((r) => `${r.type}:${r.keyId}`).join(', ');
        process.stderr.write(`rewrapped ${inPlace ? path : `${path} → ${output.name}`}\n  from ${list(before)}\n  to   ${list(after)}\n`);
      }
    } catch (error) {
      await reader.cancel().catch(() => {});
      await output?.abort();
      throw error;
    }
    return EXIT.OK;
  } catch (error) {
    return report('rewrap', error);
  }
}
