// Byte-level forms for decode's fast path (flat-row.ts): the patterns the schema puts on
// strings (record-schema.ts), checked on the message's bytes without making a string.
// Each says no to anything it is unsure of; the full path then decides.

export const QUOTE = 0x22;
export const BACKSLASH = 0x5c;
export const TAB = 0x09;
export const MINUS = 0x2d;
export const DOT = 0x2e;
export const ZERO = 0x30;
export const NINE = 0x39;

export function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= ZERO && c <= NINE;
}

export function twoDigits(b: Buffer, i: number): number {
  const x = b[i]!;
  const y = b[i + 1]!;
  return isDigit(x) && isDigit(y) ? (x - ZERO) * 10 + (y - ZERO) : -1;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's days_from_civil), y ≥ 1. */
export function daysFromCivil(y0: number, m: number, d: number): number {
  const y = m <= 2 ? y0 - 1 : y0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function isHex(x: number | undefined): boolean {
  return (
    x !== undefined && ((x >= ZERO && x <= NINE) || (x >= 0x41 && x <= 0x46) || (x >= 0x61 && x <= 0x66))
  );
}

export function isUuid(b: Buffer, s: number, e: number): boolean {
  if (e - s !== 36) return false;
  for (let i = 0; i < 36; i++) {
    const x = b[s + i];
    if (i === 8 || i === 13 || i === 18 || i === 23 ? x !== MINUS : !isHex(x)) return false;
  }
  return true;
}

/** -?\d+(\.\d+)? */
export function isDecimal(b: Buffer, s: number, e: number): boolean {
  let i = b[s] === MINUS ? s + 1 : s;
  const f = i;
  while (i < e && isDigit(b[i])) i++;
  if (i === f) return false;
  if (i === e) return true;
  if (b[i] !== DOT) return false;
  const g = ++i;
  while (i < e && isDigit(b[i])) i++;
  return i > g && i === e;
}

/** -?\d+ */
export function isInteger(b: Buffer, s: number, e: number): boolean {
  let i = b[s] === MINUS ? s + 1 : s;
  if (i === e) return false;
  for (; i < e; i++) if (!isDigit(b[i])) return false;
  return true;
}
