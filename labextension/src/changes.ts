/**
 * What the user changed in the form, and nothing else: the form shows defaults it fills in
 * itself (an empty list where the server keeps null, say), and sending those back would
 * replace the server's own defaults. A blank value (nothing, '', an empty list or object) is
 * "not set" whichever way it is spelled.
 */

type Plain = Record<string, unknown>;

export function isPlainObject(value: unknown): value is Plain {
  return !!value && typeof value === 'object' && !Array.isArray(value);
}

export function isBlank(value: unknown): boolean {
  if (value === undefined || value === null || value === '') {
    return true;
  }
  if (Array.isArray(value)) {
    return value.length === 0;
  }
  if (isPlainObject(value)) {
    return Object.values(value).every(isBlank);
  }
  return false;
}

export function sameValue(a: unknown, b: unknown): boolean {
  if (isBlank(a) && isBlank(b)) {
    return true;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => sameValue(item, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].every(k => sameValue(a[k], b[k]));
  }
  return a === b;
}

/**
 * The changes from `baseline` to `current` as a JSON merge patch (RFC 7396, what PATCH takes):
 * changed leaves, lists whole, null where a value was cleared. undefined when nothing changed.
 */
export function mergePatch(baseline: unknown, current: unknown): unknown {
  if (sameValue(baseline, current)) {
    return undefined;
  }
  if (isBlank(current)) {
    return null; // cleared: the server's default applies again
  }
  if (
    isPlainObject(current) &&
    (isPlainObject(baseline) || isBlank(baseline))
  ) {
    const base: Plain = isPlainObject(baseline) ? baseline : {};
    const out: Plain = {};
    for (const key of new Set([
      ...Object.keys(base),
      ...Object.keys(current)
    ])) {
      const change = mergePatch(base[key], current[key]);
      if (change !== undefined) {
        out[key] = change;
      }
    }
    return Object.keys(out).length ? out : undefined;
  }
  return current;
}

/** A merge patch as a new spec's fields: what was cleared is simply not sent. */
export function withoutNulls(patch: unknown): unknown {
  if (!isPlainObject(patch)) {
    return patch;
  }
  const out: Plain = {};
  for (const [key, value] of Object.entries(patch)) {
    if (value !== null && value !== undefined) {
      out[key] = withoutNulls(value);
    }
  }
  return out;
}
