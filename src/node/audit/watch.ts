/**
 * `sealbox audit watch`: follows an audit file like `tail -F` (polling: a rotated file is read to
 * its end, then the new file from its start; a truncated file from its start), verifies the chain as
 * lines arrive, and runs the alert rules (src/edge/audit/rules.ts) on each event.
 *
 * What alerts: in follow mode, lines written after the watch started (what was there is read first,
 * as a baseline: it teaches the rules which principals use which keys); with `once`, every line;
 * with `since`, lines recorded at or after that time (earlier ones are the baseline). A broken chain
 * is an alert (`chain`); the watcher then resynchronises on the next line, so one bad line does not
 * blind it. A rotated or truncated file starts a new chain.
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import { ChainVerifier, auditEvent } from '../../edge/audit/records.js';
import { RuleEngine, type Alert, type WatchRules } from '../../edge/audit/rules.js';
import { nodeSha256 } from '../kms/node-crypto.js';

export interface WatchOptions {
  file: string;
  rules: WatchRules;
  /** Read to the end, then stop. */
  once?: boolean;
  /** Alert only on records at or after this time (ms); earlier ones are the baseline. */
  since?: number;
  /** Follow mode: alert on the lines already in the file too. */
  fromStart?: boolean;
  /** Polling interval in ms (default 250). */
  pollMs?: number;
  onAlert: (alert: Alert) => void;
  /** Stops following. */
  signal?: AbortSignal;
  /** Notes (rotation, truncation, a missing file). */
  log?: (message: string) => void;
}

export interface WatchResult {
  alerts: number;
  /** Lines verified, over every file followed. */
  verified: number;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

export async function watchAudit(o: WatchOptions): Promise<WatchResult> {
  const log = o.log ?? (() => {});
  const engine = new RuleEngine(o.rules);
  let verifier = new ChainVerifier(nodeSha256);
  let alerts = 0;
  let verified = 0;
  let lineNo = 0;
  let live = o.once === true || o.fromStart === true;
  const emit = (a: Alert) => {
    alerts++;
    o.onAlert(a);
  };

  async function onLine(line: string): Promise<void> {
    lineNo++;
    if (line === '') return;
    const v = await verifier.push(line);
    if (!v.ok) {
      emit({ rule: 'chain', time: new Date().toISOString(), principal: '-', keyId: null, message: `chain broken: ${v.reason}`, file: o.file, line: lineNo });
      // Resynchronise: the next line's prevHash is taken as given.
      verifier = new ChainVerifier(nodeSha256, { trustFirst: true });
      return;
    }
    verified++;
    const e = auditEvent(v.record);
    if (!e) return;
    const alerting = o.since !== undefined ? e.ms >= o.since : live;
    for (const a of engine.observe(e, alerting)) emit({ ...a, file: o.file, line: lineNo });
  }

  let fh: FileHandle | undefined;
  let ino: number | undefined;
  let position = 0;
  let partial = '';
  const buf = Buffer.alloc(64 * 1024);
  const decoder = new TextDecoder();

  async function drain(): Promise<void> {
    for (;;) {
      const { bytesRead } = await fh!.read(buf, 0, buf.length, position);
      if (bytesRead === 0) return;
      position += bytesRead;
      partial += decoder.decode(buf.subarray(0, bytesRead), { stream: true });
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        await onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
      }
    }
  }

  async function openFile(): Promise<boolean> {
    try {
      fh = await open(o.file, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
    ino = (await fh.stat()).ino;
    position = 0;
    partial = '';
    lineNo = 0;
    verifier = new ChainVerifier(nodeSha256);
    return true;
  }

  try {
    if (!(await openFile())) {
      if (o.once) throw Object.assign(new Error(`${o.file}: no such file`), { code: 'ENOENT' });
      log(`${o.file} does not exist yet; waiting for it`);
    } else {
      await drain();
    }
    if (o.once) return { alerts, verified };
    live = true;
    while (!o.signal?.aborted) {
      await sleep(o.pollMs ?? 250, o.signal);
      if (o.signal?.aborted) break;
      let st;
      try {
        st = await stat(o.file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        continue; // rotated away, not yet recreated: keep waiting
      }
      if (!fh) {
        if (await openFile()) await drain();
        continue;
      }
      if (st.ino !== ino) {
        // Rotated: finish the old file, then follow the new one from its start (a new chain).
        await drain();
        await fh.close();
        fh = undefined;
        log(`${o.file} was rotated; following the new file`);
        if (await openFile()) await drain();
        continue;
      }
      if (st.size < position) {
        log(`${o.file} was truncated; reading it from the start`);
        position = 0;
        partial = '';
        lineNo = 0;
        verifier = new ChainVerifier(nodeSha256);
      }
      if (st.size > position) await drain();
    }
    return { alerts, verified };
  } finally {
    await fh?.close().catch(() => {});
  }
}

/** One alert as a line of text: `ALERT <time> <rule> <principal> <key> <message>`. */
export function formatAlert(a: Alert): string {
  return `ALERT ${a.time} ${a.rule} ${a.principal} ${a.keyId ?? '-'} ${a.message}${a.line !== undefined ? ` (${a.file}:${a.line})` : ''}`;
}
