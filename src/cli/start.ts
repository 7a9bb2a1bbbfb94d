import { EXIT } from './main.js';

export async function run(_argv: string[]): Promise<number> {
  console.error(
    'sealbox start: the demo (local KMS + proxy + demo page) has not landed yet.\n' +
      'For now: `npm test` runs the whole suite, and the README shows the library API.',
  );
  return EXIT.FAILURE;
}
