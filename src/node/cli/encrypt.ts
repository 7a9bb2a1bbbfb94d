/** `sealbox encrypt [options] [input]`: a file or stdin into a Sealbox envelope. */
import { parseChunkSize, parseCli, parseContext, positionals } from './shared/args.js';
import { UsageError, report } from './shared/errors.js';
import { openInput, openOutput } from './shared/io.js';
import { KEY_HELP, KEY_OPTIONS, keyringFrom } from './shared/keys.js';
import { encryptTransform } from './shared/pipeline.js';
import { pipeFile } from './shared/run-file.js';
import { EXIT } from './exit.js';

export const HELP = `Usage: sealbox encrypt [options] [input]

Encrypts a file (or stdin, when input is absent or "-") into a Sealbox envelope, streaming, in
constant memory. The output file is written crash-safely (temp file, fsync, rename): it is
either absent, or the previous file, or the whole new envelope.

Options:
  -o, --output <file>     write the envelope here (default: stdout, if it is not a terminal)
  --context <k=v>         encryption context pair, authenticated and sent to the KMS (repeatable)
  --chunk-size <size>     chunk size: a power of two from 16KiB (default) to 4MiB, e.g. 1MiB
  -q, --quiet             no progress bar (one is shown on stderr for long work on a terminal)
  -h, --help              this help

${KEY_HELP}

Exit codes: 0 ok, 1 failure, 2 usage, 3 auth (KMS or proxy said no), 4 invalid input.

Examples:
  sealbox encrypt --aes-key k.bin --context app=demo -o report.pdf.sbx report.pdf
  tar c dir | sealbox encrypt --kms http://127.0.0.1:4599 --key alias/backup > dir.tar.sbx
  sealbox encrypt --kms https://kms.eu-west-1.amazonaws.com --key alias/main --rsa-public recovery.pem -o f.sbx f`;

export async function run(argv: string[]): Promise<number> {
  try {
    const { values, positionals: args } = parseCli(argv, {
      ...KEY_OPTIONS,
      output: { type: 'string', short: 'o' },
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
