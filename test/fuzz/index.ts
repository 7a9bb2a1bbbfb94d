import { envelopeTargets, type FuzzTarget } from './envelope.js';

export type { FuzzTarget };
/** Every fuzz target; other areas (streams, KMS handler, SigV4, proxy, policy) add theirs here. */
export const fuzzTargets: FuzzTarget[] = [...envelopeTargets];
