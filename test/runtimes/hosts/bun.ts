// Bun host: `bun bun.mjs <request.json> <response.json> <root>`. Bun APIs only.
import { handle } from '../protocol.js';

declare const Bun: {
  argv: string[];
  file(path: string): { text(): Promise<string> };
  write(path: string, data: string): Promise<number>;
};

const [requestPath, responsePath, root] = Bun.argv.slice(2) as [string, string, string];
const request = JSON.parse(await Bun.file(requestPath).text());
const response = await handle(request, { runtime: 'bun', readText: (path) => Bun.file(`${root}/${path}`).text() });
await Bun.write(responsePath, JSON.stringify(response));
