// One mapping column compiled for decode: everything the per-record loop asks about a column
// (requiredness, fallback, bounds as exact decimals and BigInts, NUMERIC precision) is worked
// out here once per mapping, so the hot path only reads fields.
import type { ColumnSpec, ColumnType } from '../core/topic-mapping.js';
import { numberToDecimal } from './decimal-text.js';

export const INT32_MIN = -2147483648;
export const INT32_MAX = 2147483647;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const SQL_NUMERIC = /^\s*numeric\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)\s*$/i;

export interface ColumnPlan {
  readonly name: string;
  readonly kind: ColumnType;
  /** Also true for key columns: a NULL in the conflict key would fail the whole batch. */
  readonly required: boolean;
  /** The name shadows an Object.prototype member, so `obj[name]` alone could find it. */
  readonly ownCheck: boolean;
  readonly defaultTenant: boolean;
  /** What a missing/null value becomes: the default tenant, or null (NULL, or missing if required). */
  readonly fallback: string | null;
  readonly upperCase: boolean;
  readonly maxLength: number | undefined;
  /** Enum checked by hand (after upper-casing) for upperCase columns; ajv checks the others. */
  readonly enumAfterUpper: ReadonlySet<string> | undefined;
  readonly enumText: string;
  /** Bounds for string-typed numbers, checked by hand (ajv's minimum only sees JSON numbers). */
  readonly minDec: string | undefined;
  readonly minAtMostZero: boolean;
  readonly maxDec: string | undefined;
  readonly minInt: bigint;
  readonly maxInt: bigint;
  /** NUMERIC(p,s) from sqlType: digits allowed before the point (p - s), and s. */
  readonly maxIntDigits: number | undefined;
  readonly scale: number;
  readonly sqlType: string;
  /** Position in the conflict key, -1 when not part of it. */
  readonly keyPos: number;
}

export function planColumn(c: ColumnSpec, keyPos: number, tenant: string | undefined): ColumnPlan {
  const kind = c.type;
  const upper = c.upperCase === true && kind === 'text';
  const isInt = kind === 'bigint' || kind === 'integer';
  const lo = kind === 'integer' ? BigInt(INT32_MIN) : INT64_MIN;
  const hi = kind === 'integer' ? BigInt(INT32_MAX) : INT64_MAX;
  const m = kind === 'numeric' && c.sqlType !== undefined ? SQL_NUMERIC.exec(c.sqlType) : null;
  const precision = m === null ? undefined : Number(m[1]);
  const scale = m === null ? 0 : Number(m[2] ?? 0);
  const defaultTenant = c.defaultTenant === true;
  return {
    name: c.name,
    kind,
    required: c.required === true || keyPos >= 0,
    ownCheck: c.name in Object.prototype,
    defaultTenant,
    fallback: defaultTenant ? (tenant ?? null) : null,
    upperCase: upper,
    maxLength: c.maxLength,
    enumAfterUpper: upper && c.enum !== undefined ? new Set(c.enum) : undefined,
    enumText: (c.enum ?? []).map((v) => JSON.stringify(v)).join(', '),
    minDec: c.min === undefined ? undefined : numberToDecimal(c.min),
    minAtMostZero: c.min !== undefined && c.min <= 0,
    maxDec: c.max === undefined ? undefined : numberToDecimal(c.max),
    minInt: isInt && c.min !== undefined && c.min > Number(lo) ? BigInt(Math.ceil(c.min)) : lo,
    maxInt: isInt && c.max !== undefined && c.max < Number(hi) ? BigInt(Math.floor(c.max)) : hi,
    maxIntDigits: precision === undefined ? undefined : precision - scale,
    scale,
    sqlType: c.sqlType ?? kind,
    keyPos,
  };
}
