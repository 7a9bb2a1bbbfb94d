// `npm run docs`: the API reference, as Markdown, in docs/api/ (generated, not committed).
// API Extractor reads the .d.ts files tsc writes to dist/ (one run per package entry) into a doc
// model; API Documenter turns the models into pages. Both bundle their own TypeScript. TypeDoc is
// not an option here: our compiler is TypeScript 7 (`tsc`, the native port), which has no JS API
// for TypeDoc to load, and TypeDoc cannot read the sources with another compiler's settings.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { root, run } from './lib/run.mjs';

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const work = join(root, '.build', 'docs');
const models = join(work, 'models');
const out = join(root, 'docs', 'api');

if (!existsSync(join(root, 'dist', 'index.d.ts'))) run('npm', ['run', '--silent', 'build']);
rmSync(work, { recursive: true, force: true });
mkdirSync(models, { recursive: true });

for (const [subpath, target] of Object.entries(pkg.exports)) {
  if (typeof target === 'string' || !target.types) continue;
  // API Documenter wants npm package names, which have no "/" outside a scope: sealbox/proxy is "sealbox-proxy".
  const name = subpath === '.' ? pkg.name : `${pkg.name}-${subpath.slice(2).replaceAll('/', '-')}`;
  const file = name;
  const config = {
    $schema: 'https://developer.microsoft.com/json-schemas/api-extractor/v7/api-extractor.schema.json',
    projectFolder: root,
    mainEntryPointFilePath: join(root, target.types),
    bundledPackages: [],
    compiler: {
      overrideTsconfig: {
        compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2024', 'DOM', 'DOM.Iterable'], types: ['node'], strict: true, skipLibCheck: true },
        include: [join(root, 'dist')],
      },
    },
    apiReport: { enabled: false },
    docModel: { enabled: true, apiJsonFilePath: join(models, `${file}.api.json`) },
    dtsRollup: { enabled: false },
    tsdocMetadata: { enabled: false },
    messages: {
      compilerMessageReporting: { default: { logLevel: 'warning' } },
      extractorMessageReporting: {
        default: { logLevel: 'warning' },
        'ae-missing-release-tag': { logLevel: 'none' },
        'ae-forgotten-export': { logLevel: 'none' },
      },
      tsdocMessageReporting: { default: { logLevel: 'none' } },
    },
  };
  const configFile = join(work, `${file}.api-extractor.json`);
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  console.log(`── ${subpath === '.' ? pkg.name : pkg.name + subpath.slice(1)} (${target.types})`);
  run('npx', ['api-extractor', 'run', '--local', '--config', configFile]);
  // Each entry is its own "package" in the reference: sealbox, sealbox-proxy (sealbox/proxy), …
  const model = join(models, `${file}.api.json`);
  const json = JSON.parse(readFileSync(model, 'utf8'));
  json.name = name;
  writeFileSync(model, JSON.stringify(json, null, 2));
}

rmSync(out, { recursive: true, force: true });
run('npx', ['api-documenter', 'markdown', '--input-folder', models, '--output-folder', out]);
console.log(`API reference: ${join('docs', 'api', 'index.md')}`);
