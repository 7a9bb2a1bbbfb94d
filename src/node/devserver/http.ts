/** Small helpers for the dev server's fetch handlers. */

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(`${JSON.stringify(body)}\n`, {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...headers },
  });
}

export function problem(status: number, message: string, extra: Record<string, unknown> = {}): Response {
  return json({ error: message, ...extra }, status);
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Reads a JSON body of at most `max` bytes. */
export async function readJson(request: Request, max = 16 * 1024): Promise<Record<string, unknown>> {
  const bytes = await readBytes(request, max);
  if (bytes.length === 0) return {};
  try {
    const value = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8')) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
    return value as Record<string, unknown>;
  } catch {
    throw new HttpError(400, 'the body must be a JSON object');
  }
}

/** Reads a body of at most `max` bytes into memory (small bodies only: headers for a rewrap). */
export async function readBytes(request: Request, max: number): Promise<Uint8Array> {
  const reader = request.body?.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  if (reader) {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > max) {
        reader.cancel().catch(() => {});
        throw new HttpError(413, `the body is larger than ${max} bytes`);
      }
      parts.push(value);
    }
  }
  return new Uint8Array(Buffer.concat(parts));
}
