/** Overriding this process's environment for a test, and putting it back. */

/**
 * Sets each of `vars` in `process.env` (`undefined` removes the variable) and returns the function that puts every
 * one back as it was before (removed again if it was unset). For specs whose own connections must see a setting the
 * services they start also get, e.g. `AGENTSIGHT_STREAM_REPLICAS` (call in `beforeAll`, the restore in `afterAll`).
 */
export function overrideEnv(vars: Record<string, string | undefined>): () => void {
  const before = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const set = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  set(vars);
  return () => set(before);
}
