// Deno host: `deno run --allow-read=<root>,<request> --allow-write=<response> deno.mjs <request.json> <response.json> <root>`.
// Deno APIs only (no node: compatibility layer).
import { handle } from '../protocol.js';

declare const Deno: {
  args: string[];
  readTextFile(path: string): Promise<string>;
  writeTextFile(path: string, data: string): Promise<void>;
};

const [requestPath, responsePath, root] = Deno.args as [string, string, string];
const request = JSON.parse(await Deno.readTextFile(requestPath));
const response = await handle(request, { runtime: 'deno', readText: (path) => Deno.readTextFile(`${root}/${path}`) });
await Deno.writeTextFile(responsePath, JSON.stringify(response));
