/** `sealbox decrypt [options] [input]`: a Sealbox envelope (file or stdin) back to plaintext. */
import { parseCli, parseContext, positionals } from './shared/args.js';
import { UsageError, report } from './shared/errors.js';
import { openInput, openOutput } from './shared/io.js';
import { KEY_HELP, KEY_OPTIONS, keyringFrom } from './shared/keys.js';
import { decryptTransform } from './shared/pipeline.js';
import { pipeFile } from './shared/run-file.js';
import { S3_HELP, S3_OPTIONS, hasS3Flags, isS3Url, parseS3Url } from './shared/s3.js';
import { EXIT } from './exit.js';

export const HELP = `Usage: sealbox decrypt [options] [input]

Decrypts a Sealbox envelope (a file, stdin when input is absent or "-", or an S3 object given as
s3://bucket/key, read with ranged GETs of 8 MiB pinned to its ETag, so an object replaced during
the read fails), streaming, in constant memory. With -o the plaintext goes to a temp file next to the target, which is renamed
into place only after the whole envelope authenticated: on any error no output file is left.
To stdout, plaintext is written as each chunk authenticates, so OUTPUT MAY BE PARTIAL BEFORE AN
ERROR; the exit code is then non-zero and the output must be discarded.

Options:
  -o, --output <file>     write the plaintext here (mode 0600; default: stdout)
  --expect-context <k=v>  fail (exit 4) unless the envelope's context has this pair (repeatable)
  -q, --quiet             no progress bar (one is shown on stderr for long work on a terminal)
  -h, --help              this help

${KEY_HELP}
  For decrypt, --kms alone (without --key) lets the KMS find the key of a KMS recipient.

${S3_HELP}

Exit codes: 0 ok, 1 failure, 2 usage, 3 auth (no key for any recipient, KMS or proxy said no),
4 invalid input (not an envelope, tampered, truncated, context mismatch). S3 errors (no such
bucket or object, the object changed during the read) exit 1; S3 refusing the credentials, 3.

Examples:
  sealbox decrypt --aes-key k.bin --expect-context app=demo -o report.pdf report.pdf.sbx
  curl -s https://host/blobs/x | sealbox decrypt --kms http://127.0.0.1:4599 | tar x
  sealbox decrypt --aes-key k.bin -o db.dump s3://backups/2026/db.dump.sbx`;

export async function run(argv: string[]): Promise<number> {
  try {
    const { values, positionals: args } = parseCli(argv, {
      ...KEY_OPTIONS,
      ...S3_OPTIONS,
      output: { type: 'string', short: 'o' },
      'expect-context': { type: 'string', multiple: true },
      quiet: { type: 'boolean', short: 'q' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      console.log(HELP);
      return EXIT.OK;
    }
    const [inputPath] = positionals(args, 1, 'decrypt takes one input file');
    const expectContext = parseContext(values['expect-context'], '--expect-context');
    if (isS3Url(values.output)) throw new UsageError('decrypt writes to a file or stdout, not to S3');
    if (isS3Url(inputPath)) {
      const location = parseS3Url(inputPath);
      const keyring = await keyringFrom(values, 'decrypt');
      const { decryptFromS3 } = await import('./shared/s3-run.js');
      await decryptFromS3({ flags: values, location, output: values.output, keyring, quiet: values.quiet === true, ...(expectContext ? { expectContext } : {}) });
      return EXIT.OK;
    }
    if (hasS3Flags(values)) throw new UsageError('--s3-* flags go with an s3://bucket/key input');
    const keyring = await keyringFrom(values, 'decrypt');
    const input = await openInput(inputPath);
    const transform = decryptTransform({ keyring, ...(expectContext ? { expectContext } : {}) });
    const output = await openOutput(values.output, { mode: 0o600 });
    await pipeFile({ input, output, transform, label: 'decrypt', quiet: values.quiet === true });
    return EXIT.OK;
  } catch (error) {
    return report('decrypt', error);
  }
}
