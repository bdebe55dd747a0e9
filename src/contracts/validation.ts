import type { z } from 'zod';

export type Validation<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly issues: readonly z.core.$ZodIssue[] };

/**
 * zod's verdict through its Standard Schema interface: the same issues as `safeParse`, without the `ZodError`
 * around them. Building that error (an `Error`, with its stack trace) costs several times the check itself, and a
 * rejected event only needs the issues' paths and messages.
 */
export function validate<T extends z.ZodType>(schema: T, value: unknown): Validation<z.output<T>> {
  const result = schema['~standard'].validate(value);
  if (result instanceof Promise) {
    // zod answers later for an asynchronous refinement, and for a check that threw: safeParse throws either at once.
    void result.catch(() => undefined);
    const parsed = schema.safeParse(value);
    return parsed.success ? { ok: true, value: parsed.data } : { ok: false, issues: parsed.error.issues };
  }
  // zod's issues are its own `$ZodIssue`s, with `path` as property keys.
  return result.issues === undefined ? { ok: true, value: result.value } : { ok: false, issues: result.issues as readonly z.core.$ZodIssue[] };
}
