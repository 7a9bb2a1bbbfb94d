// Node host: `node node.mjs <request.json> <response.json> <repo root>`.
import { readFile, writeFile } from 'node:fs/promises';
import { handle } from '../protocol.js';

const [requestPath, responsePath, root] = process.argv.slice(2) as [string, string, string];
const request = JSON.parse(await readFile(requestPath, 'utf8'));
const response = await handle(request, { runtime: 'node', readText: (path) => readFile(`${root}/${path}`, 'utf8') });
await writeFile(responsePath, JSON.stringify(response));
