// writeFileAtomic: all or nothing, and a failed write leaves no temp file behind.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { writeFileAtomic } from '../../src/node/fs.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealbox-atomic-'));
});
after(() => rm(dir, { recursive: true, force: true }));

test('replaces the file whole, and leaves only the file', async () => {
  const path = join(dir, 'keys.json');
  await writeFile(path, 'old');
  await writeFileAtomic(path, 'new contents');
  assert.equal(await readFile(path, 'utf8'), 'new contents');
  assert.deepEqual(await readdir(dir), ['keys.json']);
});

test('a write that fails removes its temp file and keeps what was there', async () => {
  const sub = join(dir, 'failing');
  await mkdir(sub);
  // The target is a non-empty directory: the temp file is written and synced, the rename fails.
  const target = join(sub, 'target');
  await mkdir(target);
  await writeFile(join(target, 'inside'), 'kept');
  await assert.rejects(writeFileAtomic(target, 'data'), (error: NodeJS.ErrnoException) => ['EISDIR', 'ENOTEMPTY', 'EEXIST'].includes(error.code ?? ''));
  assert.deepEqual((await readdir(sub)).sort(), ['target'], 'no .tmp- file is left behind');
  assert.equal(await readFile(join(target, 'inside'), 'utf8'), 'kept');
});
