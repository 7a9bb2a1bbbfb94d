// The CLI from the sources (no build needed): `node --import tsx test/node/cli/s3-child.ts <args>`.
import { main } from '../../../src/node/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
