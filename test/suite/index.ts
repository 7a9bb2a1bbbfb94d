import type { TestCase } from './harness.js';
import { roundtripCases } from './roundtrip.js';
import { wycheproofCases } from './wycheproof.js';

export const allCases: TestCase[] = [...wycheproofCases, ...roundtripCases];
