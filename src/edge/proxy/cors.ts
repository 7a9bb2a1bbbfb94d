/** CORS for the proxy: the allowed origins' headers on every answer, and the preflight answer. */
import { DEFAULTS, type CorsConfig } from './config.js';

const CORS_ALLOW_HEADERS = [
  'authorization',
  'content-type',
  'x-amz-target',
  'x-amz-date',
  'x-amz-content-sha256',
  'x-amz-security-token',
  'x-amz-user-agent',
  'amz-sdk-invocation-id',
  'amz-sdk-request',
];
const CORS_EXPOSE_HEADERS = 'x-amzn-requestid, x-amzn-errortype, retry-after';

export class Cors {
  readonly #cors: CorsConfig | undefined;

  constructor(cors: CorsConfig | undefined) {
    this.#cors = cors;
  }

  /** Whether cross-origin calls are configured at all. */
  get configured(): boolean {
    return this.#cors !== undefined;
  }

  originAllowed(origin: string): boolean {
    const cors = this.#cors;
    return cors !== undefined && (cors.origins === '*' || cors.origins.includes(origin));
  }

  headers(origin: string | undefined): Record<string, string> {
    if (origin === undefined || !this.originAllowed(origin)) return {};
    return { 'access-control-allow-origin': origin, 'access-control-expose-headers': CORS_EXPOSE_HEADERS, vary: 'Origin' };
  }

  preflight(requestedHeaders: string | null, origin: string | undefined): { status: number; headers: Record<string, string>; body: null } {
    if (origin === undefined || !this.originAllowed(origin)) return { status: 403, headers: { vary: 'Origin' }, body: null };
    const requested = (requestedHeaders ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter((h) => h !== '');
    const allowed = new Set(CORS_ALLOW_HEADERS);
    for (const h of requested) if (h.startsWith('x-amz-') || h.startsWith('amz-sdk-')) allowed.add(h);
    return {
      status: 204,
      headers: {
        'access-control-allow-origin': origin,
        'access-control-allow-methods': 'POST',
        'access-control-allow-headers': [...allowed].join(', '),
        'access-control-max-age': String(this.#cors?.maxAgeSec ?? DEFAULTS.corsMaxAgeSec),
        vary: 'Origin, Access-Control-Request-Headers',
      },
      body: null,
    };
  }
}
