/** `sealbox decrypt [options] [input]`: a Sealbox envelope (file or stdin) back to plaintext. */
import { parseCli, parseContext, positionals } from './shared/args.js';
import { report } from './shared/errors.js';
import { openInput, openOutput } from './shared/io.js';
import { KEY_HELP, KEY_OPTIONS, keyringFrom } from './shared/keys.js';
import { decryptTransform } from './shared/pipeline.js';
import { pipeFile } from './shared/run-file.js';
import { EXIT } from './exit.js';

export const HELP = `Usage: sealbox decrypt [options] [input]

Decrypts a Sealbox envelope (a file, or stdin when input is absent or "-"), streaming, in
constant memory. With -o the plaintext goes to a temp file next to the target, which is renamed
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

Exit codes: 0 ok, 1 failure, 2 usage, 3 auth (no key for any recipient, KMS or proxy said no),
4 invalid input (not an envelope, tampered, truncated, context mismatch).

Examples:
  sealbox decrypt --aes-key k.bin --expect-context app=demo -o report.pdf report.pdf.sbx
  curl -s https://host/blobs/x | sealbox decrypt --kms http://127.0.0.1:4599 | tar x`;

export async function run(argv: string[]): Promise<number> {
  try {
    const { values, positionals: args } = parseCli(argv, {
      ...KEY_OPTIONS,
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
