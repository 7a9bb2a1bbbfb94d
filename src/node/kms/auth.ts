/**
 * Local KMS authentication: a SigV4 signature checked against the store's credentials, and the
 * caller it names (account, principal ARN, and `kms:ViaService` from a trusted credential).
 */
import { SigV4Error, verifySigV4, type SigV4Request, type VerifySigV4Options } from '../../edge/aws/sigv4.js';
import type { Caller, HandlerOptions } from './core.js';
import { sigV4Failure } from '../../edge/aws/errors.js';
import { nodeSigV4Crypto } from './node-crypto.js';
import { VIA_SERVICE_HEADER } from './principals.js';
import type { StoredCredential } from './store.js';

export interface Authenticated {
  caller: Caller;
  /** The region of the signature's credential scope. */
  region: string;
}

export class KmsAuthenticator {
  readonly #credentials = new Map<string, StoredCredential>();
  readonly #signingKeys = new Map<string, Uint8Array>();
  readonly #defaultAccount: string;
  /** The same for every request (built once, not per call). */
  readonly #sigV4Options: VerifySigV4Options;

  constructor(credentials: Iterable<StoredCredential>, options: Pick<HandlerOptions, 'defaultAccount' | 'requestClock' | 'maxSkewMs'>) {
    for (const c of credentials) this.#credentials.set(c.accessKeyId, c);
    this.#defaultAccount = options.defaultAccount;
    this.#sigV4Options = {
      lookupSecret: (id) => {
        const c = this.#credentials.get(id);
        return c === undefined ? undefined : { secretAccessKey: c.secretAccessKey };
      },
      now: options.requestClock,
      maxSkewMs: options.maxSkewMs,
      service: 'kms',
      crypto: nodeSigV4Crypto,
      signingKeyCache: this.#signingKeys,
    };
  }

  /** The caller of a signed request; an AwsError (as AWS answers it) when the signature does not hold. */
  async authenticate(request: SigV4Request, body: Uint8Array): Promise<Authenticated> {
    let sig;
    try {
      sig = await verifySigV4(request, body, this.#sigV4Options);
    } catch (e) {
      if (e instanceof SigV4Error) throw sigV4Failure(e);
      throw e;
    }
    const cred = this.#credentials.get(sig.accessKeyId)!;
    const account = cred.account ?? this.#defaultAccount;
    const caller: Caller = { accessKeyId: cred.accessKeyId, account, principal: cred.principalArn ?? `arn:aws:iam::${account}:user/sealbox-dev` };
    // Only from a trusted credential, and only when the header is covered by the signature.
    const via = cred.trustedForViaService && sig.signedHeaders.includes(VIA_SERVICE_HEADER) ? request.headers.get(VIA_SERVICE_HEADER) : null;
    if (via) caller.viaService = via;
    return { caller, region: sig.region };
  }
}
