import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls `check` until it holds (true) or `ms` have passed (false), for state that another
 * process, socket or timer changes: the test asserts on the answer, so a timeout reads as
 * the expectation that failed.
 */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 5_000): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > deadline) return false;
    await sleep(10);
  }
  return true;
}

/** As eventually, for a step the test cannot go on without: a timeout fails, naming what was awaited. */
export async function until(condition: () => boolean, what: string, ms = 5_000): Promise<void> {
  if (!(await eventually(condition, ms))) throw new Error(`timed out waiting for ${what}`);
}
