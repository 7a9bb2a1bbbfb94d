// The Debian packages the test suite runs: browsers (Chromium, Firefox ESR, WebKitGTK's WebDriver
// under Xvfb), real services (Ceph's RADOS Gateway as S3, Redis) and ffmpeg for test media.
// `ensureSystemDeps()` finds their binaries; whatever is missing is installed with ONE apt-get call
// when we are root (as on CI and the developers' machines), otherwise it prints the one
// `sudo apt-get install -y …` line that would install it and exits 1. Never downloads anything else.
import { accessSync, constants, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { delimiter, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** What each part of the suite needs: the Debian packages and the binaries that prove they are there. */
export const SYSTEM_DEPS = {
  chromium: { packages: ['chromium'], binaries: ['/usr/bin/chromium'] },
  firefox: { packages: ['firefox-esr'], binaries: ['firefox-esr'] },
  webkit: { packages: ['webkit2gtk-driver', 'xvfb'], binaries: ['WebKitWebDriver', 'xvfb-run'] },
  ceph: {
    packages: ['ceph-mon', 'ceph-osd', 'radosgw'],
    binaries: ['ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'ceph', 'ceph-authtool', 'monmaptool'],
  },
  redis: { packages: ['redis-server'], binaries: ['redis-server'] },
  ffmpeg: { packages: ['ffmpeg'], binaries: ['ffmpeg'] },
};

const SEARCH_PATH = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

function executable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The absolute path of a binary (an absolute name is checked as it is), or undefined. */
export function findBinary(name) {
  if (name.startsWith('/')) return executable(name) ? name : undefined;
  for (const dir of SEARCH_PATH) {
    if (dir && executable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

function missingOf(names) {
  const missing = [];
  for (const name of names) {
    // Chromium given by CHROME_PATH is ensureChromium()'s business, not apt's.
    if (name === 'chromium' && process.env.CHROME_PATH) continue;
    const dep = SYSTEM_DEPS[name];
    if (dep.binaries.some((binary) => !findBinary(binary))) missing.push(name);
  }
  return missing;
}

/**
 * Makes sure the binaries of `need` (default: everything in SYSTEM_DEPS) are installed.
 * Returns `{ installed: string[] (packages installed now), seconds }`. Exits 1 when something is
 * missing and cannot be installed here.
 */
export function ensureSystemDeps({ need = Object.keys(SYSTEM_DEPS), quiet = false } = {}) {
  for (const name of need) {
    if (!SYSTEM_DEPS[name]) throw new Error(`ensureSystemDeps: unknown need "${name}" (known: ${Object.keys(SYSTEM_DEPS).join(', ')})`);
  }
  const missing = missingOf(need);
  if (missing.length === 0) return { installed: [], seconds: 0 };
  const packages = [...new Set(missing.flatMap((name) => SYSTEM_DEPS[name].packages))];
  const command = `apt-get install -y ${packages.join(' ')}`;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !existsSync('/usr/bin/apt-get')) {
    console.error(`The tests need Debian packages that are missing (${missing.join(', ')}): sudo ${command}`);
    process.exit(1);
  }
  if (!quiet) console.log(`Installing the system packages the tests need (${missing.join(', ')}): ${command}`);
  const started = Date.now();
  // Another apt/dpkg (a second worktree, unattended-upgrades) may hold the lock: wait for it
  // instead of failing at once.
  const lockWait = ['-o', 'DPkg::Lock::Timeout=600'];
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['update', '-qq', ...lockWait], { stdio: 'inherit', env });
  const install = spawnSync('apt-get', ['install', '-y', '-qq', ...lockWait, ...packages], { stdio: 'inherit', env });
  const seconds = (Date.now() - started) / 1000;
  const still = missingOf(need);
  if (install.status !== 0 || still.length > 0) {
    console.error(`Installing ${packages.join(' ')} failed (apt-get exit ${install.status ?? install.signal}; still missing: ${still.join(', ') || 'none'}): run ${command} by hand.`);
    process.exit(1);
  }
  if (!quiet) console.log(`Installed ${packages.join(' ')} in ${seconds.toFixed(1)} s.`);
  return { installed: packages, seconds };
}

// `node scripts/lib/system-deps.mjs [need…]`: the same, from a shell (.ci/run uses it).
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const need = process.argv.slice(2);
  ensureSystemDeps(need.length ? { need } : {});
}
