/**
 * The CLI through the Sealbox proxy with `--token <jwt>`: an uploader encrypts for its tenant, a
 * reader of that tenant decrypts, a reader of another tenant is refused (AUTH).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startEnv, token, type Env } from '../../edge/proxy/helpers.js';
import { EXIT, fixtures, sealbox, workDir } from './helpers.js';

let env: Env;
let w: Awaited<ReturnType<typeof workDir>>;
let f: Awaited<ReturnType<typeof fixtures>>;

before(async () => {
  env = await startEnv();
  w = await workDir();
  f = await fixtures(w.dir);
});
after(async () => {
  await env.close();
  await w.cleanup();
});

test('--token: tenant isolation through the proxy', async () => {
  const uploader = await token({ sub: 'alice', tenant: 'a', role: 'uploader' });
  const readerA = await token({ sub: 'bob', tenant: 'a', role: 'reader' });
  const readerB = await token({ sub: 'carol', tenant: 'b', role: 'reader' });
  const proxy = ['--kms', env.proxy.url];

  const enc = await sealbox(['encrypt', ...proxy, '--token', uploader, '--key', 'alias/tenant-a', '--context', 'tenant=a', '-o', w.path('a.sbx'), f.plain]);
  assert.equal(enc.code, EXIT.OK, enc.stderr);

  const wrongTenant = await sealbox(['encrypt', ...proxy, '--token', uploader, '--key', 'alias/tenant-a', '--context', 'tenant=b'], { input: 'x' });
  assert.equal(wrongTenant.code, EXIT.AUTH, wrongTenant.stderr);

  const dec = await sealbox(['decrypt', ...proxy, '--token', readerA, '--expect-context', 'tenant=a', w.path('a.sbx')]);
  assert.equal(dec.code, EXIT.OK, dec.stderr);
  assert.deepEqual(dec.stdout, f.data);

  const denied = await sealbox(['decrypt', ...proxy, '--token', readerB, '-o', w.path('b.out'), w.path('a.sbx')]);
  assert.equal(denied.code, EXIT.AUTH, denied.stderr);
  assert.match(denied.stderr, /ERR_ACCESS_DENIED/);
  assert.equal((await w.files()).some((n) => n.includes('b.out')), false);
});
