// tsc emits ESM + .d.ts and rollup bundles the core for browsers, into a staging directory beside
// dist/ (same depth, so source-map paths come out the same), which then replaces dist/ by two
// renames. Tests and benchmarks that read dist/ while a build runs see the old build or the new
// one, never a half-written or missing dist/.
import { existsSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { root, run } from './lib/run.mjs';

const dist = join(root, 'dist');
const stage = mkdtempSync(join(root, '.dist-build-'));
// `run` exits the process when a step fails, which skips `finally`: clean up on exit as well.
process.on('exit', () => rmSync(stage, { recursive: true, force: true }));
try {
  run('npx', ['tsc', '-p', 'tsconfig.json', '--outDir', stage]);
  run('npx', ['rollup', '-c', 'rollup.config.mjs', '--silent'], { env: { ...process.env, SEALBOX_DIST: stage } });
  const old = `${stage}-old`;
  if (existsSync(dist)) renameSync(dist, old);
  renameSync(stage, dist);
  rmSync(old, { recursive: true, force: true });
} finally {
  rmSync(stage, { recursive: true, force: true });
}
