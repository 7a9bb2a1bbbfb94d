/**
 * Audit report (runtime-agnostic): calls, denials, errors and throttling grouped by principal, key
 * and operation, with first and last seen, the top principals of each key and the keys each
 * principal used. Feed it events (`auditEvent` of verified records); it sorts its output, so the
 * report does not depend on the order files were read.
 */
import type { AuditEvent, AuditOutcome } from './records.js';

export interface Counts {
  calls: number;
  allow: number;
  deny: number;
  error: number;
  throttled: number;
  first: string | null;
  last: string | null;
}

export interface Group extends Counts {
  name: string;
}

export interface PrincipalGroup extends Group {
  /** Keys this principal called, with their call counts, most used first. */
  keys: Array<{ keyId: string; calls: number }>;
}

export interface KeyGroup extends Group {
  /** Principals that called this key, most calls first (at most `top`). */
  topPrincipals: Array<{ principal: string; calls: number }>;
  principals: number;
}

export interface AuditSummary {
  totals: Counts;
  byPrincipal: PrincipalGroup[];
  byKey: KeyGroup[];
  byOp: Group[];
}

const empty = (): Counts => ({ calls: 0, allow: 0, deny: 0, error: 0, throttled: 0, first: null, last: null });

function add(c: Counts, e: AuditEvent): void {
  c.calls++;
  c[e.outcome satisfies AuditOutcome]++;
  // ISO-8601 UTC times compare as strings.
  if (c.first === null || e.time < c.first) c.first = e.time;
  if (c.last === null || e.time > c.last) c.last = e.time;
}

const byCallsThenName = <T extends { calls: number }>(name: (t: T) => string) => (a: T, b: T) => b.calls - a.calls || (name(a) < name(b) ? -1 : name(a) > name(b) ? 1 : 0);

export class AuditAggregator {
  readonly #totals = empty();
  readonly #principals = new Map<string, { c: Counts; keys: Map<string, number> }>();
  readonly #keys = new Map<string, { c: Counts; principals: Map<string, number> }>();
  readonly #ops = new Map<string, Counts>();

  add(e: AuditEvent): void {
    add(this.#totals, e);
    let p = this.#principals.get(e.principal);
    if (!p) this.#principals.set(e.principal, (p = { c: empty(), keys: new Map() }));
    add(p.c, e);
    if (e.keyId !== null) {
      p.keys.set(e.keyId, (p.keys.get(e.keyId) ?? 0) + 1);
      let k = this.#keys.get(e.keyId);
      if (!k) this.#keys.set(e.keyId, (k = { c: empty(), principals: new Map() }));
      add(k.c, e);
      k.principals.set(e.principal, (k.principals.get(e.principal) ?? 0) + 1);
    }
    let o = this.#ops.get(e.op);
    if (!o) this.#ops.set(e.op, (o = empty()));
    add(o, e);
  }

  summary(top = 5): AuditSummary {
    return {
      totals: { ...this.#totals },
      byPrincipal: [...this.#principals]
        .map(([name, p]) => ({
          name,
          ...p.c,
          keys: [...p.keys].map(([keyId, calls]) => ({ keyId, calls })).sort(byCallsThenName((k) => k.keyId)),
        }))
        .sort(byCallsThenName((g) => g.name)),
      byKey: [...this.#keys]
        .map(([name, k]) => ({
          name,
          ...k.c,
          principals: k.principals.size,
          topPrincipals: [...k.principals].map(([principal, calls]) => ({ principal, calls })).sort(byCallsThenName((p) => p.principal)).slice(0, top),
        }))
        .sort(byCallsThenName((g) => g.name)),
      byOp: [...this.#ops].map(([name, c]) => ({ name, ...c })).sort(byCallsThenName((g) => g.name)),
    };
  }
}
