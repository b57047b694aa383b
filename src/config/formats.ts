// convict formats with messages that say what was expected and what was seen. Each
// validator throws `expected …, got …`; load-config.ts prefixes the key and env var name.
import convict from 'convict';
import { parseDatabaseUrl } from './database-connection.js';

function shown(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/** Env values are strings: "a, b,,c" → ["a", "b", "c"]; arrays from files pass through. */
function commaList(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  return v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function numberish(v: unknown): unknown {
  if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
  return v;
}

function intFormat(name: string, min: number, max = Number.MAX_SAFE_INTEGER): convict.Format {
  return {
    name,
    coerce: numberish,
    validate(v: unknown) {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
        const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `between ${min} and ${max}`;
        throw new Error(`expected an integer ${range}, got ${shown(v)}`);
      }
    },
  };
}

const HOST_PORT = /^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const formats: convict.Format[] = [
  intFormat('positive-int', 1),
  intFormat('non-negative-int', 0),
  intFormat('port', 0, 65535),
  {
    name: 'positive-number',
    coerce: numberish,
    validate(v: unknown) {
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
        throw new Error(`expected a number > 0, got ${shown(v)}`);
      }
    },
  },
  {
    name: 'fraction',
    coerce: numberish,
    validate(v: unknown) {
      if (typeof v !== 'number' || !(v > 0 && v <= 1)) {
        throw new Error(`expected a fraction in (0, 1], got ${shown(v)}`);
      }
    },
  },
  {
    name: 'multiplier',
    coerce: numberish,
    validate(v: unknown) {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 1) {
        throw new Error(`expected a number >= 1, got ${shown(v)}`);
      }
    },
  },
  {
    name: 'bool',
    coerce(v: unknown) {
      if (typeof v !== 'string') return v;
      const s = v.trim().toLowerCase();
      if (s === 'true' || s === '1' || s === 'yes') return true;
      if (s === 'false' || s === '0' || s === 'no') return false;
      return v;
    },
    validate(v: unknown) {
      if (typeof v !== 'boolean') throw new Error(`expected true or false, got ${shown(v)}`);
    },
  },
  {
    name: 'broker-list',
    coerce: commaList,
    validate(v: unknown) {
      const list = Array.isArray(v) ? (v as unknown[]) : [v];
      const bad = list.find((b) => typeof b !== 'string' || !HOST_PORT.test(b));
      if (list.length === 0 || bad !== undefined) {
        throw new Error(`expected host:port[,host:port…], got ${shown(Array.isArray(v) ? v.join(',') : v)}`);
      }
    },
  },
  {
    name: 'postgres-url',
    validate(v: unknown) {
      // parseDatabaseUrl's message never echoes the value: it may hold a password.
      if (typeof v !== 'string') throw new Error('expected a postgres:// URL');
      parseDatabaseUrl(v);
    },
  },
  {
    name: 'uuid-or-empty',
    validate(v: unknown) {
      if (typeof v !== 'string' || (v !== '' && !UUID.test(v))) {
        throw new Error(`expected a UUID (8-4-4-4-12 hex) or empty, got ${shown(v)}`);
      }
    },
  },
  {
    name: 'sql-identifier',
    validate(v: unknown) {
      if (typeof v !== 'string' || !/^[a-z_][a-z0-9_]{0,62}$/.test(v)) {
        throw new Error(`expected a lower-case SQL name ([a-z_][a-z0-9_]*), got ${shown(v)}`);
      }
    },
  },
  {
    name: 'topic-name',
    validate(v: unknown) {
      if (typeof v !== 'string' || !/^[A-Za-z0-9._-]{1,249}$/.test(v)) {
        throw new Error(`expected a Kafka topic name ([A-Za-z0-9._-], 1-249 chars), got ${shown(v)}`);
      }
    },
  },
  {
    name: 'topic-prefix',
    validate(v: unknown) {
      if (typeof v !== 'string' || !/^[A-Za-z0-9._-]{0,200}$/.test(v)) {
        throw new Error(`expected a topic prefix ([A-Za-z0-9._-]*), got ${shown(v)}`);
      }
    },
  },
  {
    name: 'topic-suffix-list',
    coerce: commaList,
    validate(v: unknown) {
      if (!Array.isArray(v) || v.some((s) => typeof s !== 'string' || !/^[A-Za-z0-9._-]{1,200}$/.test(s))) {
        throw new Error(`expected a comma-separated list of topic names, got ${shown(v)}`);
      }
    },
  },
];

export function registerFormats(): void {
  for (const f of formats) convict.addFormat(f);
}
