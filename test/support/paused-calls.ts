/**
 * `target`, with calls of `method` held until `release()`: one run paused at a step while another runs, so a test
 * forces an interleaving instead of hoping for it. `reached` resolves when the first call arrives.
 */
export function pausedAt<T extends object>(target: T, method: keyof T) {
  let release!: () => void;
  let arrived!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const reached = new Promise<void>((resolve) => (arrived = resolve));
  const paused = new Proxy(target, {
    get(object, property, receiver) {
      const value: unknown = Reflect.get(object, property, receiver);
      if (typeof value !== 'function') return value;
      if (property !== method) return value.bind(object) as unknown;
      return async (...args: unknown[]) => {
        arrived();
        await gate;
        return (value as (...a: unknown[]) => unknown).apply(object, args);
      };
    },
  });
  return { store: paused, reached, release };
}
