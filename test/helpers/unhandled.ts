import type { Test } from 'tap';

/**
 * Collects the unhandled rejections and uncaught exceptions of this process until the test
 * ends, so a fuzz test can assert there were none (the proxy installs no handler: one would
 * end it) and say which input caused them.
 */
export function recordUnhandled(t: Test): unknown[] {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => void unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  process.on('uncaughtException', onUnhandled);
  t.teardown(() => {
    process.off('unhandledRejection', onUnhandled);
    process.off('uncaughtException', onUnhandled);
  });
  return unhandled;
}
