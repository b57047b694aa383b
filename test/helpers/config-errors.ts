// Loading the config the way the unit tests of its parts do, and the one line a ConfigError says.
import assert from 'node:assert/strict';
import { loadConfig, type LoadedConfig } from '../../src/config/load-config.js';
import { ConfigError } from '../../src/core/errors.js';

/** loadConfig with `env` only (NODE_ENV=development), no process environment. */
export function loadWith(env: Record<string, string>): LoadedConfig {
  return loadConfig({ env: { NODE_ENV: 'development', ...env } });
}

/** The message of the ConfigError `fn` throws; fails the test when it throws nothing or another error. */
export function configErrorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    return e.message;
  }
  assert.fail('expected the config to be rejected');
}
