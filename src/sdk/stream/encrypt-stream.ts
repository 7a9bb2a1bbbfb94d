import { SealboxError } from '../errors.js';
import { isValidChunkSize } from '../format/constants.js';
import { type EncryptOptions, startEncryption } from '../envelope/session.js';
import { SealTransformer, type StreamTuning, byteStrategies, checkTuning } from './chunk-stream.js';

/**
 * Options of `EncryptStream`: those of `encrypt`, plus the stream's buffering.
 *
 * @example
 * ```ts
 * new EncryptStream({ keyring, context: { tenant: 'acme' } });
 * ```
 */
export interface EncryptStreamOptions extends EncryptOptions, StreamTuning {}

/**
 * Encrypts a stream into a Sealbox envelope, in constant memory, like the platform's
 * `CompressionStream`:
 *
 * ```ts
 * const body = file.stream().pipeThrough(new EncryptStream({ keyring, context: { tenant } }));
 * await fetch(url, { method: 'PUT', body, duplex: 'half' });
 * ```
 *
 * The output is exactly what `encrypt` gives for the same bytes, keys and salt, however the input
 * is cut into pieces. The data key is wrapped (a KMS call, for a KMS keyring) when the stream is
 * created; the header is the first thing read. Several chunks are sealed at once (bounded by
 * `inFlightBytes`) and emitted in order; a slow reader holds the writer back after about
 * `inFlightBytes` of buffered output, plus the output of the piece being written.
 *
 * @example
 * ```ts
 * const body = file.stream().pipeThrough(new EncryptStream({ keyring, context: { tenant } }));
 * await fetch(url, { method: 'PUT', body, duplex: 'half' });
 * ```
 */
export class EncryptStream extends TransformStream<Uint8Array, Uint8Array> {
  constructor(options: EncryptStreamOptions) {
    if (!options || typeof options !== 'object') throw new SealboxError('ERR_INVALID_ARGUMENT', 'EncryptStream needs options with a keyring');
    if (options.chunkSize !== undefined && !isValidChunkSize(options.chunkSize)) {
      throw new SealboxError('ERR_LIMIT', `chunkSize ${options.chunkSize} is not a power of two from 16384 (16 KiB) to 4194304 (4 MiB)`);
    }
    checkTuning(options);
    super(new SealTransformer(() => startEncryption(options), options), ...byteStrategies(options.inFlightBytes));
  }
}
