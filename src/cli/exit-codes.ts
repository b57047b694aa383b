// The process's exit code for an error that ended a command: one table for every command
// (docs/cli.md's exit-code table lists the same codes).
import { ConfigError, SinkError } from '../core/errors.js';
import { GroupActiveError } from '../ops/reset-offsets.js';

const EXIT_FAILURE = 1;
const EXIT_CONFIG = 2;
const EXIT_QUEUE_OVERFLOW = 3;
export const EXIT_DRAIN_TIMED_OUT = 4;
const EXIT_GROUP_ACTIVE = 5;
export const EXIT_AT_ONCE = 130;

export function exitCodeFor(e: unknown): number {
  if (e instanceof ConfigError) return EXIT_CONFIG;
  if (e instanceof SinkError && e.code === 'QUEUE_OVERFLOW') return EXIT_QUEUE_OVERFLOW;
  if (e instanceof SinkError && e.code === 'SHUTDOWN_TIMED_OUT') return EXIT_DRAIN_TIMED_OUT;
  // Exit 5 promises that nothing changed; after sink_offsets moved it is a failure to act on.
  if (e instanceof GroupActiveError) return e.moved ? EXIT_FAILURE : EXIT_GROUP_ACTIVE;
  return EXIT_FAILURE;
}
