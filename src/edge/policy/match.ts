/** Matching for key policies: globs (`*`, `?`), policy variables (`${jwt:tenant}`), case-insensitive condition keys. */

/** Glob with `*` (any run) and `?` (one character); `ignoreCase` for actions. */
export function globMatch(pattern: string, value: string, ignoreCase = false): boolean {
  const p = ignoreCase ? pattern.toLowerCase() : pattern;
  const v = ignoreCase ? value.toLowerCase() : value;
  if (!p.includes('*') && !p.includes('?')) return p === v;
  // Iterative wildcard matching with backtracking on the last star: O(|p|·|v|) worst case.
  let pi = 0;
  let vi = 0;
  let star = -1;
  let mark = 0;
  while (vi < v.length) {
    if (pi < p.length && (p[pi] === '?' || p[pi] === v[vi])) {
      pi++;
      vi++;
    } else if (pi < p.length && p[pi] === '*') {
      star = pi++;
      mark = vi;
    } else if (star !== -1) {
      pi = star + 1;
      vi = ++mark;
    } else return false;
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}

const LITERAL_PLACEHOLDER = { '*': '\u0000STAR\u0000', '?': '\u0000QMARK\u0000' } as const;

/** A condition key that two entries of the request context spell alike but for case. */
export const AMBIGUOUS = Symbol('ambiguous condition key');

/**
 * Condition key names are matched ignoring case (as in AWS). When two entries match one name (an
 * encryption context with `TENANT` and `Tenant`), which one is meant would depend on the order of
 * the request's keys: the lookup says so instead of picking one.
 */
export function lookupCaseInsensitive<T>(map: Record<string, T> | undefined, key: string): T | undefined | typeof AMBIGUOUS {
  if (!map) return undefined;
  const lower = key.toLowerCase();
  let found: T | undefined;
  let matches = 0;
  for (const k of Object.keys(map)) {
    if (k.toLowerCase() !== lower) continue;
    if (++matches > 1) return AMBIGUOUS;
    found = map[k];
  }
  return found;
}

/**
 * Substitutes `${name}` policy variables. Returns undefined when a variable has no value. With
 * `forGlob`, a substituted value's own `*`/`?` are kept literal (the caller matches with
 * `globMatchLiteral`), so a claim value cannot widen a pattern.
 */
export function substitute(
  text: string,
  variables: Record<string, string | undefined>,
  forGlob: boolean,
): string | undefined {
  if (!text.includes('${')) return text;
  let missing = false;
  const out = text.replace(/\$\{([^}]*)\}/g, (_m, name: string) => {
    if (name === '*') return forGlob ? LITERAL_PLACEHOLDER['*'] : '*';
    if (name === '?') return forGlob ? LITERAL_PLACEHOLDER['?'] : '?';
    if (name === '$') return '$';
    const v = lookupCaseInsensitive(variables, name);
    // A variable spelled twice ignoring case has no one value: as if it had none.
    if (v === undefined || v === AMBIGUOUS) {
      missing = true;
      return '';
    }
    if (!forGlob) return v;
    return v.replace(/\*/g, LITERAL_PLACEHOLDER['*']).replace(/\?/g, LITERAL_PLACEHOLDER['?']);
  });
  return missing ? undefined : out;
}

/** Glob where the placeholders produced by `substitute(…, true)` match only themselves literally. */
export function globMatchLiteral(pattern: string, value: string, ignoreCase = false): boolean {
  if (!pattern.includes('\u0000')) return globMatch(pattern, value, ignoreCase);
  // Escape-aware matcher: tokenise the pattern into literal chars and wildcards.
  const tokens: Array<{ lit: string } | { star: true } | { any: true }> = [];
  for (let i = 0; i < pattern.length; ) {
    if (pattern.startsWith(LITERAL_PLACEHOLDER['*'], i)) {
      tokens.push({ lit: '*' });
      i += LITERAL_PLACEHOLDER['*'].length;
    } else if (pattern.startsWith(LITERAL_PLACEHOLDER['?'], i)) {
      tokens.push({ lit: '?' });
      i += LITERAL_PLACEHOLDER['?'].length;
    } else {
      const c = pattern[i]!;
      tokens.push(c === '*' ? { star: true } : c === '?' ? { any: true } : { lit: c });
      i++;
    }
  }
  const v = ignoreCase ? value.toLowerCase() : value;
  const eq = (a: string, b: string) => (ignoreCase ? a.toLowerCase() === b : a === b);
  let ti = 0;
  let vi = 0;
  let star = -1;
  let mark = 0;
  while (vi < v.length) {
    const t = tokens[ti];
    if (t && (('any' in t) || ('lit' in t && eq(t.lit, v[vi]!)))) {
      ti++;
      vi++;
    } else if (t && 'star' in t) {
      star = ti++;
      mark = vi;
    } else if (star !== -1) {
      ti = star + 1;
      vi = ++mark;
    } else return false;
  }
  while (ti < tokens.length && 'star' in tokens[ti]!) ti++;
  return ti === tokens.length;
}
