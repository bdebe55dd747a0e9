import type { z } from 'zod';

export type Validation<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly issues: readonly z.core.$ZodIssue[] };

/**
 * zod's verdict through its Standard Schema interface: the same issues as `safeParse`, without the `ZodError`
 * around them. Building that error (an `Error`, with its stack trace) costs several times the check itself, and a
 * rejected event only needs the issues' paths and messages.
 */
export function validate<T extends z.ZodType>(schema: T, value: unknown): Validation<z.output<T>> {
  const result = schema['~standard'].validate(value);
  // Only a schema with an asynchronous refinement answers later; none of ours has one.
  if (result instanceof Promise) throw new TypeError('validate() takes synchronous schemas only');
  // zod's issues are its own `$ZodIssue`s, with `path` as property keys.
  return result.issues === undefined ? { ok: true, value: result.value } : { ok: false, issues: result.issues as readonly z.core.$ZodIssue[] };
}
