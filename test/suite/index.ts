import type { TestCase } from './harness.js';
import { rangeCases } from './range.js';
import { roundtripCases } from './roundtrip.js';
import { streamCases } from './streams.js';
import { tamperCases } from './tamper.js';
import { vectorCases } from './vectors.js';
import { wycheproofCases } from './wycheproof.js';

export const allCases: TestCase[] = [...wycheproofCases, ...roundtripCases, ...vectorCases, ...tamperCases, ...streamCases, ...rangeCases];
