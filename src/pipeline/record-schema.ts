// The JSON Schema a message value must meet for its topic's columns (structure, JSON types,
// patterns, lengths, enums and JSON-number bounds), compiled once by ajv, and how ajv's first
// error reads as a dead-letter reason. What ajv cannot express is checked in column-convert.ts.
import type { ErrorObject } from 'ajv';
import type { RecordError } from '../core/errors.js';
import type { ColumnSpec, ColumnType } from '../core/topic-mapping.js';
import { INT32_MAX, INT32_MIN, type ColumnPlan } from './column-plan.js';
import { codePointLength } from './decimal-text.js';
import { invalid, show } from './rejection-text.js';

export const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
// RFC 3339 with two narrowings PostgreSQL forces on us: offsets below 16 h (its limit) and, in
// ymdIsValid, no year 0000. Seconds stop at 59: Date.parse rejects leap seconds anyway.
const RFC3339_PATTERN =
  '^\\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\\d|3[01])[Tt](?:[01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d(?:\\.\\d+)?(?:[Zz]|[+-](?:0\\d|1[0-5]):[0-5]\\d)$';
const DATE_PATTERN = '^\\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\\d|3[01])$';
const DECIMAL_PATTERN = '^-?\\d+(?:\\.\\d+)?$';
const INTEGER_PATTERN = '^-?\\d+$';
const INTEGER_EXPECTED = 'an integer or an integer string matching -?\\d+';

/** What a column type accepts as JSON, and what a value of the wrong type or form is told. */
interface JsonForm {
  /** JSON types before `null` is added for optional columns; undefined accepts any JSON value. */
  readonly types: readonly string[] | undefined;
  readonly pattern: string | undefined;
  /** The column's min/max apply to JSON numbers (strings are bounded in column-convert.ts). */
  readonly bounded: boolean;
  readonly expected: string;
  /** The code of a type or pattern error. */
  readonly code: 'WRONG_TYPE' | 'BAD_UUID' | 'BAD_TIMESTAMP';
}

const FORMS: Record<ColumnType, JsonForm> = {
  text: { types: ['string'], pattern: undefined, bounded: false, expected: 'a string', code: 'WRONG_TYPE' },
  uuid: {
    types: ['string'],
    pattern: UUID_PATTERN,
    bounded: false,
    expected: 'a UUID (8-4-4-4-12 hex digits)',
    code: 'BAD_UUID',
  },
  timestamptz: {
    types: ['string', 'integer'],
    pattern: RFC3339_PATTERN,
    bounded: false,
    expected:
      'an RFC 3339 timestamp with time zone (e.g. 2024-01-02T15:04:05Z) or integer epoch milliseconds',
    code: 'BAD_TIMESTAMP',
  },
  date: {
    types: ['string'],
    pattern: DATE_PATTERN,
    bounded: false,
    expected: 'a date YYYY-MM-DD',
    code: 'BAD_TIMESTAMP',
  },
  numeric: {
    types: ['number', 'string'],
    pattern: DECIMAL_PATTERN,
    bounded: true,
    expected: 'a number or a decimal string matching -?\\d+(\\.\\d+)?',
    code: 'WRONG_TYPE',
  },
  bigint: {
    types: ['integer', 'string'],
    pattern: INTEGER_PATTERN,
    bounded: true,
    expected: INTEGER_EXPECTED,
    code: 'WRONG_TYPE',
  },
  integer: {
    types: ['integer', 'string'],
    pattern: INTEGER_PATTERN,
    bounded: true,
    expected: INTEGER_EXPECTED,
    code: 'WRONG_TYPE',
  },
  double: { types: ['number'], pattern: undefined, bounded: true, expected: 'a number', code: 'WRONG_TYPE' },
  boolean: {
    types: ['boolean'],
    pattern: undefined,
    bounded: false,
    expected: 'true or false',
    code: 'WRONG_TYPE',
  },
  jsonb: {
    types: undefined,
    pattern: undefined,
    bounded: false,
    expected: 'any JSON value',
    code: 'WRONG_TYPE',
  },
};

/** The schema for one mapping; `plans` are its columns' plans, in the same order. */
export function buildSchema(columns: readonly ColumnSpec[], plans: readonly ColumnPlan[]): object {
  const properties: Record<string, object> = {};
  const required: string[] = [];
  columns.forEach((c, i) => {
    const p = plans[i]!;
    // defaultTenant columns are checked by hand so the message can say why a tenant is needed.
    const schemaRequired = p.required && !p.defaultTenant;
    if (schemaRequired) required.push(c.name);
    const form = FORMS[c.type];
    if (form.types === undefined) {
      properties[c.name] = {};
      return;
    }
    const s: Record<string, unknown> = {};
    if (c.type === 'text') {
      if (c.maxLength !== undefined) s.maxLength = c.maxLength;
      // An optional column takes null (as NULL) whatever its enum, as it takes a missing field.
      if (c.enum !== undefined && !p.upperCase) s.enum = schemaRequired ? [...c.enum] : [...c.enum, null];
    }
    if (form.pattern !== undefined) s.pattern = form.pattern;
    if (form.bounded) Object.assign(s, jsonNumberBounds(c));
    const types = schemaRequired ? form.types : [...form.types, 'null'];
    s.type = types.length === 1 ? types[0] : [...types];
    properties[c.name] = s;
  });
  return { type: 'object', properties, required };
}

/** The bounds the schema puts on a JSON number for this column (none for unbounded types). */
export function jsonNumberBounds(c: ColumnSpec): { minimum?: number; maximum?: number } {
  if (!FORMS[c.type].bounded) return {};
  if (c.type === 'integer') {
    return {
      minimum: Math.max(c.min ?? INT32_MIN, INT32_MIN),
      maximum: Math.min(c.max ?? INT32_MAX, INT32_MAX),
    };
  }
  return { ...(c.min !== undefined && { minimum: c.min }), ...(c.max !== undefined && { maximum: c.max }) };
}

/** ajv's first error (it stops at one) → the rejection, in the column's own terms where known. */
export function ajvError(e: ErrorObject | undefined, byName: ReadonlyMap<string, ColumnPlan>): RecordError {
  if (e === undefined) return invalid('SCHEMA_VIOLATION', 'value: failed its schema');
  const params = e.params as { missingProperty?: string; limit?: number; comparison?: string };
  if (e.keyword === 'required')
    return invalid('MISSING_FIELD', `${params.missingProperty}: required, got nothing`);
  const name = e.instancePath.slice(1);
  const p = byName.get(name);
  const got: unknown = e.data;
  switch (e.keyword) {
    case 'type':
    case 'pattern': {
      // null only fails the type of a required column (optional ones accept it).
      if (e.keyword === 'type' && got === null)
        return invalid('MISSING_FIELD', `${name}: required, got null`);
      const form = p === undefined ? undefined : FORMS[p.kind];
      return invalid(
        form?.code ?? 'WRONG_TYPE',
        `${name}: expected ${form?.expected ?? e.message}, got ${show(got)}`,
      );
    }
    case 'maxLength':
      return invalid(
        'TOO_LONG',
        `${name}: expected at most ${params.limit} characters, got ${codePointLength(String(got))}`,
      );
    case 'enum':
      return invalid('BAD_ENUM', `${name}: expected one of ${p?.enumText}, got ${show(got)}`);
    case 'minimum':
    case 'maximum': {
      const what = p?.kind === 'bigint' || p?.kind === 'integer' ? 'integer' : 'number';
      return invalid(
        'OUT_OF_RANGE',
        `${name}: expected ${what} ${params.comparison} ${params.limit}, got ${show(got)}`,
      );
    }
    default:
      return invalid('SCHEMA_VIOLATION', `${name}: ${e.message ?? e.keyword}, got ${show(got)}`);
  }
}
