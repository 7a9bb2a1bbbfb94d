/**
 * `sealbox audit watch`: follows an audit file like `tail -F` (polling: a rotated file is read to
 * its end, and for 2 s more in case its writer still appends, while the new file is read from its
 * start; a truncated file, noticed by its size or by its first bytes changing, from its start),
 * verifies the chain as lines arrive, and runs the alert rules (src/edge/audit/rules.ts) on each event.
 *
 * What alerts: in follow mode, lines written after the watch started (what was there is read first,
 * as a baseline: it teaches the rules which principals use which keys); with `once`, every line;
 * with `since`, lines recorded at or after that time (earlier ones are the baseline). A broken chain
 * is an alert (`chain`); the watcher then resynchronises on the next line, so one bad line does not
 * blind it. A rotated or truncated file starts a new chain.
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import { ChainVerifier, auditEvent } from '../../edge/audit/records.js';
import { RuleEngine, type Alert, type RuleMemory, type WatchRules } from '../../edge/audit/rules.js';
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
  /**
   * Where a previous run stopped (`WatchResult.state`): reading resumes after its last line (when
   * the file is the same one: same inode, same first bytes, not shorter), the chain continues from
   * its hash, the rules keep what they learnt, and every new line alerts. Otherwise the file is read
   * from its start, with what the rules learnt kept.
   */
  state?: WatchState;
}

export interface WatchState {
  v: 1;
  file: string;
  ino: number;
  /** Bytes of complete lines read. */
  position: number;
  /** The file's first bytes (hex), to tell the same file from a new one. */
  head: string;
  lineNo: number;
  lastHash: string;
  rules: RuleMemory;
}

export interface WatchResult {
  alerts: number;
  /** Lines verified, over every file followed. */
  verified: number;
  /** Where this run stopped, for the next one (`state`). */
  state?: WatchState;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const onAbort = () => (clearTimeout(t), resolve());
    const t = setTimeout(() => (signal?.removeEventListener('abort', onAbort), resolve()), ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** Bytes from the start of a file remembered to notice it was truncated and rewritten between polls. */
const HEAD_BYTES = 256;

/** One file being read: its handle, where reading is, and its chain. */
class FileReader {
  position = 0;
  partial = '';
  /** The first bytes read (to notice the file was truncated and written again between polls). */
  head = Buffer.alloc(0);
  lineNo = 0;
  verifier = new ChainVerifier(nodeSha256);
  readonly #decoder = new TextDecoder();
  static readonly #buf = Buffer.alloc(64 * 1024);

  constructor(
    readonly fh: FileHandle,
    readonly ino: number,
  ) {}

  static async open(path: string): Promise<FileReader | undefined> {
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    return new FileReader(fh, (await fh.stat()).ino);
  }

  reset(): void {
    this.position = 0;
    this.partial = '';
    this.head = Buffer.alloc(0);
    this.lineNo = 0;
    this.verifier = new ChainVerifier(nodeSha256);
  }

  /** Reads what was appended since the last call, line by line. */
  async drain(onLine: (reader: FileReader, line: string) => Promise<void>): Promise<void> {
    const buf = FileReader.#buf;
    for (;;) {
      const { bytesRead } = await this.fh.read(buf, 0, buf.length, this.position);
      if (bytesRead === 0) return;
      if (this.head.length < HEAD_BYTES && this.position === this.head.length) {
        this.head = Buffer.concat([this.head, buf.subarray(0, Math.min(bytesRead, HEAD_BYTES - this.head.length))]);
      }
      this.position += bytesRead;
      this.partial += this.#decoder.decode(buf.subarray(0, bytesRead), { stream: true });
      let nl: number;
      while ((nl = this.partial.indexOf('\n')) >= 0) {
        const line = this.partial.slice(0, nl);
        this.partial = this.partial.slice(nl + 1);
        await onLine(this, line.endsWith('\r') ? line.slice(0, -1) : line);
      }
    }
  }

  /** Whether the file no longer starts with what was read from it, or is shorter than what was read. */
  async rewritten(size: number): Promise<boolean> {
    if (size < this.position) return true;
    if (this.head.length === 0) return false;
    const now = Buffer.alloc(this.head.length);
    const { bytesRead } = await this.fh.read(now, 0, this.head.length, 0);
    return bytesRead < this.head.length || !now.equals(this.head);
  }
}

/** How long a rotated-away file is still read (a writer may append to it until it reopens). */
const ROTATED_GRACE_MS = 2000;

export async function watchAudit(o: WatchOptions): Promise<WatchResult> {
  const log = o.log ?? (() => {});
  const engine = new RuleEngine(o.rules);
  engine.remember(o.state?.rules);
  let alerts = 0;
  let verified = 0;
  let live = o.once === true || o.fromStart === true;
  const emit = (a: Alert) => {
    alerts++;
    o.onAlert(a);
  };

  async function onLine(reader: FileReader, line: string): Promise<void> {
    const lineNo = ++reader.lineNo;
    if (line === '') return;
    const v = await reader.verifier.push(line);
    if (!v.ok) {
      emit({ rule: 'chain', time: new Date().toISOString(), principal: '-', keyId: null, message: `chain broken: ${v.reason}`, file: o.file, line: lineNo });
      // Resynchronise: the next line's prevHash is taken as given.
      reader.verifier = new ChainVerifier(nodeSha256, { trustFirst: true });
      return;
    }
    verified++;
    const e = auditEvent(v.record);
    if (!e) return;
    const alerting = o.since !== undefined ? e.ms >= o.since : live;
    for (const a of engine.observe(e, alerting)) emit({ ...a, file: o.file, line: lineNo });
  }

  let current = await FileReader.open(o.file);
  const rotated: Array<{ reader: FileReader; until: number }> = [];
  const stateOf = (): WatchState | undefined =>
    current && {
      v: 1,
      file: o.file,
      ino: current.ino,
      position: current.position - Buffer.byteLength(current.partial),
      head: current.head.toString('hex'),
      lineNo: current.lineNo,
      lastHash: current.verifier.lastHash,
      rules: engine.memory(),
    };
  if (current && o.state && o.state.v === 1 && o.state.ino === current.ino) {
    // The same file as last time? Same first bytes, and at least as long: then resume after its last line.
    const s = o.state;
    const head = Buffer.from(s.head, 'hex');
    const now = Buffer.alloc(head.length);
    const { bytesRead } = await current.fh.read(now, 0, head.length, 0);
    const { size } = await current.fh.stat();
    if (bytesRead === head.length && now.equals(head) && size >= s.position && /^[0-9a-f]{64}$/.test(s.lastHash)) {
      current.position = s.position;
      current.head = head;
      current.lineNo = s.lineNo;
      current.verifier = new ChainVerifier(nodeSha256, { prevHash: s.lastHash });
      live = true;
    } else log(`${o.file} is not the file the state was saved for (rotated or truncated); reading it from the start`);
  }
  try {
    if (!current) {
      if (o.once) throw Object.assign(new Error(`${o.file}: no such file`), { code: 'ENOENT' });
      log(`${o.file} does not exist yet; waiting for it`);
    } else {
      await current.drain(onLine);
    }
    if (o.once) {
      const state = stateOf();
      return state ? { alerts, verified, state } : { alerts, verified };
    }
    live = true;
    log(`following ${o.file} (${verified} records verified so far)`);
    while (!o.signal?.aborted) {
      await sleep(o.pollMs ?? 250, o.signal);
      if (o.signal?.aborted) break;
      // Files rotated away: read what their writers still append, for a while.
      for (const r of [...rotated]) {
        await r.reader.drain(onLine);
        if (Date.now() >= r.until) {
          rotated.splice(rotated.indexOf(r), 1);
          await r.reader.fh.close().catch(() => {});
        }
      }
      let st;
      try {
        st = await stat(o.file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        continue; // rotated away, not yet recreated: keep waiting
      }
      if (!current) {
        current = await FileReader.open(o.file);
        if (current) await current.drain(onLine);
        continue;
      }
      if (st.ino !== current.ino) {
        // Rotated: finish the old file (and keep reading it a little), then the new one from its start.
        await current.drain(onLine);
        rotated.push({ reader: current, until: Date.now() + ROTATED_GRACE_MS });
        log(`${o.file} was rotated; following the new file`);
        current = await FileReader.open(o.file);
        if (current) await current.drain(onLine);
        continue;
      }
      if (await current.rewritten(st.size)) {
        log(`${o.file} was truncated; reading it from the start`);
        current.reset();
      }
      if (st.size > current.position) await current.drain(onLine);
    }
    const state = stateOf();
    return state ? { alerts, verified, state } : { alerts, verified };
  } finally {
    await current?.fh.close().catch(() => {});
    for (const r of rotated) await r.reader.fh.close().catch(() => {});
  }
}

/** One alert as a line of text: `ALERT <time> <rule> <principal> <key> <message>`. */
export function formatAlert(a: Alert): string {
  return `ALERT ${a.time} ${a.rule} ${a.principal} ${a.keyId ?? '-'} ${a.message}${a.line !== undefined ? ` (${a.file}:${a.line})` : ''}`;
}
