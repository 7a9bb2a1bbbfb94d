/** What the storage code shares about HTTP: fetch with errors as SealboxErrors, S3's XML. */
import { SealboxError } from '../errors.js';

export type Fetch = typeof fetch;

/** A presigned request: a URL, and headers the signature covers (if any). */
export type PresignedRequest = string | { url: string; headers?: Record<string, string> };

export function requestOf(presigned: PresignedRequest): { url: string; headers: Record<string, string> } {
  if (typeof presigned === 'string') return { url: presigned, headers: {} };
  if (presigned && typeof presigned.url === 'string') return { url: presigned.url, headers: { ...presigned.headers } };
  throw new SealboxError('ERR_INVALID_ARGUMENT', 'a presigned request is a URL, or { url, headers }');
}

/** fetch, with a network failure as ERR_STORAGE (no status, so retryable) and an abort as ERR_ABORTED. */
export async function send(fetchImpl: Fetch, url: string, init: RequestInit, what: string): Promise<Response> {
  try {
    return await fetchImpl(url, init);
  } catch (error) {
    if (init.signal?.aborted) {
      const reason = init.signal.reason;
      throw reason instanceof SealboxError ? reason : new SealboxError('ERR_ABORTED', `${what} was aborted`, { cause: reason });
    }
    throw new SealboxError('ERR_STORAGE', `${what}: the store could not be reached (${error instanceof Error ? error.message : String(error)})`, { cause: error });
  }
}

/** An error answer as ERR_STORAGE, with S3's error code and message when the body has them. */
export async function failed(response: Response, what: string): Promise<SealboxError> {
  let body = '';
  try {
    body = await response.text();
  } catch {
    // The status says enough.
  }
  const code = xmlValue(body, 'Code');
  const message = xmlValue(body, 'Message');
  const requestId = xmlValue(body, 'RequestId') ?? response.headers.get('x-amz-request-id') ?? undefined;
  const detail = code ? `${code}${message ? `: ${message}` : ''}` : response.statusText || 'error';
  return new SealboxError('ERR_STORAGE', `${what}: HTTP ${response.status} ${detail}`, {
    status: response.status,
    ...(requestId === undefined ? {} : { requestId }),
  });
}

const ENTITIES: Record<string, string> = { quot: '"', amp: '&', apos: "'", lt: '<', gt: '>' };

export function xmlDecode(text: string): string {
  return text.replace(/&(quot|amp|apos|lt|gt|#\d+|#x[0-9a-fA-F]+);/g, (_, name: string) => {
    if (name[0] !== '#') return ENTITIES[name]!;
    return String.fromCodePoint(name[1] === 'x' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10));
  });
}

export function xmlEscape(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&${{ '<': 'lt', '>': 'gt', '&': 'amp', '"': 'quot', "'": 'apos' }[c]!};`);
}

/** The text of the first `<tag>` element in `xml` (S3's answers are flat enough for this). */
export function xmlValue(xml: string, tag: string): string | undefined {
  const match = new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml);
  return match ? xmlDecode(match[1]!) : undefined;
}

/** The bodies of every `<tag>…</tag>` element. */
export function xmlElements(xml: string, tag: string): string[] {
  return [...xml.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g'))].map((m) => m[1]!);
}
