/**
 * What the long-running commands (`sealbox kms`, `proxy`, `start`) share: strict option parsing
 * with `--help`, the port flag, listen errors a user can act on, and serving until SIGINT/SIGTERM
 * (a second signal exits at once).
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { EXIT } from '../exit.js';

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;
type Values<T extends OptionsConfig> = ReturnType<typeof parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: false }>>['values'];

/** The command's options (`--help` added), or the exit code when there is nothing to run. */
export function parseServerArgs<const T extends OptionsConfig>(command: string, argv: string[], options: T, help: string): Values<T> | number {
  let values: Values<T> & { help?: boolean };
  try {
    ({ values } = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }) as {
      values: Values<T> & { help?: boolean };
    });
  } catch (error) {
    console.error(`sealbox ${command}: ${(error as Error).message}\n\n${help}`);
    return EXIT.USAGE;
  }
  if (values.help) {
    console.log(help);
    return EXIT.OK;
  }
  return values;
}

/** `--port`: 0–65535 (0 picks a free port), `fallback` when absent; undefined (after saying why) when bad. */
export function parsePort(command: string, text: string | undefined, fallback: number): number | undefined {
  const port = text === undefined ? fallback : /^\d+$/.test(text) ? Number(text) : NaN;
  if (Number.isInteger(port) && port >= 0 && port <= 65535) return port;
  console.error(`sealbox ${command}: --port must be a number from 0 to 65535 (got '${text}')`);
  return undefined;
}

/** Says why listening failed, in words a user can act on. `inUseHint` ends the "in use" message. */
export function reportListenError(command: string, error: unknown, host: string, port: number, inUseHint = 'pick another with --port'): void {
  const err = error as NodeJS.ErrnoException;
  if (err.code === 'EADDRINUSE') console.error(`sealbox ${command}: port ${port} on ${host} is already in use; ${inUseHint}`);
  else if (err.code === 'EACCES') console.error(`sealbox ${command}: not allowed to listen on ${host}:${port} (ports below 1024 need privileges); pick another with --port`);
  else if (err.code === 'EADDRNOTAVAIL') console.error(`sealbox ${command}: ${host} is not an address of this machine`);
  else console.error(`sealbox ${command}: ${err.message}`);
}

/**
 * Resolves with the exit code once SIGINT or SIGTERM has stopped the server (`close()`, which lets
 * requests in flight finish); a second signal while it stops exits at once.
 */
export function serveUntilSignal(command: string, close: () => Promise<void>): Promise<number> {
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        console.error(`sealbox ${command}: ${signal} again, exiting now`);
        process.exit(EXIT.FAILURE);
      }
      stopping = true;
      console.error(`\nsealbox ${command}: ${signal}, shutting down…`);
      close().then(
        () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          console.error(`sealbox ${command}: stopped.`);
          resolve(EXIT.OK);
        },
        (error: unknown) => {
          console.error(`sealbox ${command}: error while stopping: ${(error as Error).message}`);
          resolve(EXIT.FAILURE);
        },
      );
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
