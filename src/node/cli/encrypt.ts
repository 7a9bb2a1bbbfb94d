/** `sealbox encrypt [options] [input]`: a file or stdin into a Sealbox envelope. */
import { parseChunkSize, parseCli, parseContext, parseIntFlag, positionals } from './shared/args.js';
import { UsageError, report } from './shared/errors.js';
import { openInput, openOutput } from './shared/io.js';
import { KEY_HELP, KEY_OPTIONS, keyringFrom } from './shared/keys.js';
import { encryptTransform } from './shared/pipeline.js';
import { pipeFile } from './shared/run-file.js';
import { S3_HELP, S3_OPTIONS, hasS3Flags, isS3Url, parsePartSize, parseS3Url } from './shared/s3.js';
import { EXIT } from './exit.js';

export const HELP = `Usage: sealbox encrypt [options] [input]

Encrypts a file (or stdin, when input is absent or "-") into a Sealbox envelope, streaming, in
constant memory. The output file is written crash-safely (temp file, fsync, rename): it is
either absent, or the previous file, or the whole new envelope.

Options:
  -o, --output <file>     write the envelope here (default: stdout, if it is not a terminal)
  --to s3://bucket/key    upload the envelope to S3 instead, as a multipart upload of whole
                          chunks (parts sealed and sent several at once; Ctrl-C aborts the
                          upload, so no object and no parts are left behind)
  --part-size <size>      plaintext bytes per part with --to (default 8MiB, at least 5MiB)
  --concurrency <n>       parts in flight with --to (default 4)
  --context <k=v>         encryption context pair, authenticated and sent to the KMS (repeatable)
  --chunk-size <size>     chunk size: a power of two from 16KiB (default) to 4MiB, e.g. 1MiB
  -q, --quiet             no progress bar (one is shown on stderr for long work on a terminal)
  -h, --help              this help

${KEY_HELP}

${S3_HELP}

Exit codes: 0 ok, 1 failure (S3 errors too: no such bucket…), 2 usage, 3 auth (KMS, proxy or S3
said no), 4 invalid input.

Examples:
  sealbox encrypt --aes-key k.bin --context app=demo -o report.pdf.sbx report.pdf
  tar c dir | sealbox encrypt --kms http://127.0.0.1:4599 --key alias/backup > dir.tar.sbx
  sealbox encrypt --kms https://kms.eu-west-1.amazonaws.com --key alias/main --rsa-public recovery.pem -o f.sbx f
  sealbox encrypt --aes-key k.bin --to s3://backups/2026/db.dump.sbx db.dump`;

export async function run(argv: string[]): Promise<number> {
  try {
    const { values, positionals: args } = parseCli(argv, {
      ...KEY_OPTIONS,
      ...S3_OPTIONS,
      output: { type: 'string', short: 'o' },
      to: { type: 'string' },
      'part-size': { type: 'string' },
      concurrency: { type: 'string' },
      context: { type: 'string', multiple: true },
      'chunk-size': { type: 'string' },
      quiet: { type: 'boolean', short: 'q' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      console.log(HELP);
      return EXIT.OK;
    }
    const [inputPath] = positionals(args, 1, 'encrypt takes one input file');
    const context = parseContext(values.context);
    const chunkSize = parseChunkSize(values['chunk-size']);
    if (values.to !== undefined) {
      if (!isS3Url(values.to)) throw new UsageError(`--to takes s3://bucket/key, got ${JSON.stringify(values.to)} (use -o for a file)`);
      if (values.output !== undefined) throw new UsageError('give -o <file> or --to s3://bucket/key, not both');
      const location = parseS3Url(values.to);
      const partSize = parsePartSize(values['part-size']);
      const concurrency = parseIntFlag(values.concurrency, '--concurrency', 1, 64);
      const keyring = await keyringFrom(values, 'encrypt');
      const { encryptToS3 } = await import('./shared/s3-run.js');
      await encryptToS3({
        flags: values,
        location,
        inputPath,
        keyring,
        quiet: values.quiet === true,
        ...(context ? { context } : {}),
        ...(chunkSize ? { chunkSize } : {}),
        ...(partSize ? { partSize } : {}),
        ...(concurrency ? { concurrency } : {}),
      });
      return EXIT.OK;
    }
    if (isS3Url(values.output)) throw new UsageError('to upload to S3, use --to s3://bucket/key');
    if (hasS3Flags(values) || values['part-size'] !== undefined || values.concurrency !== undefined) {
      throw new UsageError('--s3-*, --part-size and --concurrency go with --to s3://bucket/key');
    }
    if ((values.output === undefined || values.output === '-') && process.stdout.isTTY) {
      throw new UsageError('refusing to write an envelope to a terminal: use -o <file> or redirect stdout');
    }
    const keyring = await keyringFrom(values, 'encrypt');
    const input = await openInput(inputPath);
    const transform = encryptTransform({ keyring, ...(context ? { context } : {}), ...(chunkSize ? { chunkSize } : {}) });
    const output = await openOutput(values.output);
    await pipeFile({ input, output, transform, label: 'encrypt', quiet: values.quiet === true });
    return EXIT.OK;
  } catch (error) {
    return report('encrypt', error);
  }
}
