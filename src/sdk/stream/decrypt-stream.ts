import { SealboxError } from '../errors.js';
import { PREFIX_BYTES, resolveLimits } from '../format/constants.js';
import { type HeaderInfo, headerInfo, parseEnvelopeHeader, pendingHeader, readPrefix } from '../format/header.js';
import { type DecryptOptions, startDecryption } from '../envelope/session.js';
import { COBBLESTONE_HEADER_BYTES } from '../payload/cobblestone.js';
import { type HeadReader, OpenTransformer, type StreamTuning, abortedError, byteStrategies, checkTuning } from './chunk-stream.js';

/**
 * Options of `DecryptStream`: those of `decrypt`, plus the stream's buffering.
 *
 * @example
 * ```ts
 * new DecryptStream({ keyring, expectContext: { tenant: 'acme' } });
 * ```
 */
export interface DecryptStreamOptions extends DecryptOptions, StreamTuning {}

/**
 * Decrypts a Sealbox envelope stream, in constant memory:
 *
 * ```ts
 * const response = await fetch(url);
 * const plaintext = response.body!.pipeThrough(new DecryptStream({ keyring, expectContext: { tenant } }));
 * ```
 *
 * It reads the header (limits checked before anything is buffered for it), unwraps the data key,
 * and checks the key commitment before any chunk is decrypted. A chunk's plaintext is emitted only
 * after its tag verified. An envelope that ends early (on a full-size chunk, inside a chunk, or
 * before its final chunk) errors with ERR_TRUNCATED; reordered, duplicated, dropped or modified
 * chunks and trailing bytes error too. Errors reach both sides, and a reader that reads again
 * keeps getting the error. Plaintext released before an error is authentic but incomplete: act on
 * the data only once the stream has closed cleanly.
 *
 * @example
 * ```ts
 * const plaintext = (await fetch(url)).body!.pipeThrough(new DecryptStream({ keyring, expectContext: { tenant } }));
 * ```
 */
export class DecryptStream extends TransformStream<Uint8Array, Uint8Array> {
  /**
   * The envelope's header, once it is parsed, the data key unwrapped and the key commitment
   * verified (so its context is authenticated). Rejects if the stream fails before that.
   */
  readonly header: Promise<HeaderInfo>;

  constructor(options: DecryptStreamOptions) {
    if (!options || typeof options !== 'object') throw new SealboxError('ERR_INVALID_ARGUMENT', 'DecryptStream needs options with a keyring');
    checkTuning(options);
    const limits = resolveLimits(options.limits);
    const { promise: header, resolve: resolveHeader, reject: rejectHeader } = pendingHeader();
    // Once the header resolved, later failures need not (and cannot) reject it: pieces then skip
    // the wrapper below.
    let headerSettled = false;

    const head: HeadReader = {
      needed(buffered) {
        if (buffered.length < PREFIX_BYTES) return PREFIX_BYTES;
        return PREFIX_BYTES + readPrefix(buffered.first(PREFIX_BYTES), limits) + COBBLESTONE_HEADER_BYTES;
      },
      async open(bytes) {
        const headerLength = bytes.length - COBBLESTONE_HEADER_BYTES;
        const parsed = parseEnvelopeHeader(bytes.subarray(0, headerLength), limits);
        const keys = await startDecryption(parsed, bytes.subarray(headerLength), options);
        resolveHeader(headerInfo(parsed));
        headerSettled = true;
        return { keys, chunkSize: parsed.protected.chunkSize };
      },
      incomplete(buffered) {
        const bytes = buffered.first(buffered.length);
        if (bytes.length >= PREFIX_BYTES) {
          const cbor = readPrefix(bytes, limits);
          parseEnvelopeHeader(bytes, limits);
          if (bytes.length > PREFIX_BYTES + cbor) return new SealboxError('ERR_TRUNCATED', 'the stream ended inside the salt and commitment');
        } else {
          readPrefix(bytes, limits);
        }
        return new SealboxError('ERR_TRUNCATED', 'the stream ended inside the envelope header');
      },
    };

    const core = new OpenTransformer(head, options);
    const failHeader = <T>(promise: Promise<T>): Promise<T> =>
      promise.catch((error: unknown) => {
        rejectHeader(error);
        throw error;
      });
    // `cancel` (called when the readable is cancelled or the writable aborted) is newer than
    // TypeScript's Transformer type; runtimes without it still stop, as writes then fail.
    const transformer: Transformer<Uint8Array, Uint8Array> & { cancel(reason: unknown): void } = {
      start: (controller) => core.start(controller),
      transform: (chunk) => (headerSettled ? core.transform(chunk) : failHeader(core.transform(chunk))),
      flush: () => failHeader(core.flush()),
      cancel: (reason) => {
        rejectHeader(abortedError(reason));
        core.cancel(reason);
      },
    };
    super(transformer, ...byteStrategies(options.inFlightBytes));
    this.header = header;
  }
}
