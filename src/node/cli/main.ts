/**
 * `sealbox <command> [options]`. Each command lives in its own module, loaded on demand, and
 * exports `run(argv): Promise<number>` returning the process exit code.
 */
import { useNodeCrypto, useNodeWorkers } from '../crypto/index.js';
import { EXIT } from './exit.js';

export { EXIT };

export interface CliCommand {
  summary: string;
  load: () => Promise<{ run(argv: string[]): Promise<number> }>;
}

export const commands: Record<string, CliCommand> = {
  start: { summary: 'local KMS + proxy + demo page (what `npm start` runs)', load: () => import('./start.js') },
  proxy: { summary: 'the KMS proxy (JWT/SigV4 auth, policy, rate limit, audit) in front of a KMS', load: () => import('./proxy.js') },
  encrypt: { summary: 'encrypt a file or stdin into an envelope', load: () => import('./encrypt.js') },
  decrypt: { summary: 'decrypt an envelope (file or stdin)', load: () => import('./decrypt.js') },
  inspect: { summary: "show an envelope's header (context, recipients); no key needed", load: () => import('./inspect.js') },
  rewrap: { summary: 'move an envelope to another key (header only; payload unchanged)', load: () => import('./rewrap.js') },
  keys: { summary: 'KMS keys: create, list, describe, enable, disable, rotate, alias, policy…', load: () => import('./keys.js') },
  kms: { summary: 'local KMS (AWS KMS JSON API) for development and tests', load: () => import('./kms.js') },
  audit: { summary: 'verify, tail, report on or watch hash-chained audit files', load: () => import('./audit.js') },
  policy: { summary: 'check a proxy policy or key policy for wide-open or dead statements', load: () => import('./policy.js') },
};

export function usage(): string {
  const lines = ['Usage: sealbox <command> [options]', '', 'Commands:'];
  for (const [name, command] of Object.entries(commands)) lines.push(`  ${name.padEnd(10)} ${command.summary}`);
  lines.push('', 'Run `sealbox <command> --help` for a command\'s options.');
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name === undefined ? EXIT.USAGE : EXIT.OK;
  }
  if (name === '--version' || name === '-v') {
    console.log('sealbox 0.1.0');
    return EXIT.OK;
  }
  const command = commands[name];
  if (!command) {
    console.error(`sealbox: unknown command '${name}'\n\n${usage()}`);
    return EXIT.USAGE;
  }
  // Chunks through node:crypto (sealbox/node): the same bytes, less CPU per byte; and `workers`
  // on worker_threads, which S3 uploads use so that sealing does not hold up their HTTP.
  useNodeCrypto();
  useNodeWorkers();
  const module = await command.load();
  return module.run(rest);
}
