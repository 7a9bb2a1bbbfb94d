import { envelopeTargets, type FuzzTarget } from './envelope.js';
import { streamTargets } from './stream.js';
import { kmsTargets } from './kms.js';
import { policyTargets } from './policy.js';
import { proxyTargets } from './proxy.js';

export type { FuzzTarget };
/** Every fuzz target; other areas (streams, KMS handler, SigV4, proxy, policy) add theirs here. */
export const fuzzTargets: FuzzTarget[] = [...envelopeTargets];
fuzzTargets.push(...streamTargets, ...kmsTargets, ...policyTargets, ...proxyTargets);
