// Exact helpers for decoding: decimal strings compared and bounded without a float round
// trip (NUMERIC columns keep the producer's digits), calendar-checked dates, and text checks
// for what PostgreSQL refuses (NUL, unpaired surrogates). Pure functions, hot path.

export const NUMERIC_MAX_INTEGER = 131072;
export const NUMERIC_MAX_FRACTION = 16383;

export function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** `s` starts with YYYY-MM-DD (the pattern checked the digits); the day must exist. */
export function ymdIsValid(s: string): boolean {
  const y =
    s.charCodeAt(0) * 1000 + s.charCodeAt(1) * 100 + s.charCodeAt(2) * 10 + s.charCodeAt(3) - 48 * 1111;
  const m = s.charCodeAt(5) * 10 + s.charCodeAt(6) - 48 * 11;
  const day = s.charCodeAt(8) * 10 + s.charCodeAt(9) - 48 * 11;
  return dayExists(y, m, day);
}

/** Year 1-9999, month 1-12 and day 1-31 already checked by form: does that day exist? */
export function dayExists(y: number, m: number, day: number): boolean {
  if (y === 0) return false; // PostgreSQL has no year 0
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const days = m === 2 ? (leap ? 29 : 28) : m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
  return day <= days;
}

/** String(n) without exponent notation: 1e-7 → "0.0000001", 1e21 → "1000000000000000000000". */
export function numberToDecimal(n: number): string {
  const s = String(n);
  if (!s.includes('e')) return s;
  const neg = s.charCodeAt(0) === 45;
  const e = s.indexOf('e');
  const mantissa = s.slice(neg ? 1 : 0, e);
  const exp = Number(s.slice(e + 1));
  const dot = mantissa.indexOf('.');
  const digits = dot === -1 ? mantissa : mantissa.slice(0, dot) + mantissa.slice(dot + 1);
  const point = (dot === -1 ? mantissa.length : dot) + exp;
  let out: string;
  if (point <= 0) out = '0.' + '0'.repeat(-point) + digits;
  else if (point >= digits.length) out = digits + '0'.repeat(point - digits.length);
  else out = digits.slice(0, point) + '.' + digits.slice(point);
  return neg ? '-' + out : out;
}

/** A decimal string (-?\d+(\.\d+)?) without redundant zeros or sign: "-007.50" → "-7.5", "-0.0" → "0". */
export function canonicalDecimal(s: string): string {
  const neg = s.charCodeAt(0) === 45;
  let i = neg ? 1 : 0;
  while (i < s.length - 1 && s.charCodeAt(i) === 48 && s.charCodeAt(i + 1) !== 46) i++;
  let end = s.length;
  const dot = s.indexOf('.', i);
  if (dot !== -1) {
    while (s.charCodeAt(end - 1) === 48) end--;
    if (end - 1 === dot) end = dot;
  }
  const body = s.slice(i, end);
  if (body === '0') return '0';
  return neg ? '-' + body : body;
}

/** Exact comparison of two decimal strings, no float in between. */
export function compareDecimal(a: string, b: string): number {
  const x = canonicalDecimal(a);
  const y = canonicalDecimal(b);
  const xn = x.charCodeAt(0) === 45;
  const yn = y.charCodeAt(0) === 45;
  if (xn !== yn) return xn ? -1 : 1;
  const mag = compareMagnitude(xn ? x.slice(1) : x, yn ? y.slice(1) : y);
  return xn ? -mag : mag;
}

function compareMagnitude(x: string, y: string): number {
  const xd = x.indexOf('.');
  const yd = y.indexOf('.');
  const xInt = xd === -1 ? x : x.slice(0, xd);
  const yInt = yd === -1 ? y : y.slice(0, yd);
  if (xInt.length !== yInt.length) return xInt.length < yInt.length ? -1 : 1;
  if (xInt !== yInt) return xInt < yInt ? -1 : 1;
  // Fractions have no trailing zeros, so plain string order is numeric order.
  const xf = xd === -1 ? '' : x.slice(xd + 1);
  const yf = yd === -1 ? '' : y.slice(yd + 1);
  return xf === yf ? 0 : xf < yf ? -1 : 1;
}

/** Whether canonical decimal `c` overflows NUMERIC(p,s): too many integer digits, or rounding to s carries into one. */
export function exceedsPrecision(c: string, maxIntDigits: number, scale: number): boolean {
  const start = c.charCodeAt(0) === 45 ? 1 : 0;
  let dot = c.indexOf('.');
  if (dot === -1) dot = c.length;
  const intDigits = c.charCodeAt(start) === 48 ? 0 : dot - start;
  if (intDigits !== maxIntDigits) return intDigits > maxIntDigits;
  // At the limit, 99.995 rounded to two places is 100.00: one digit too many.
  for (let i = start; i < start + intDigits; i++) if (c.charCodeAt(i) !== 57) return false;
  const frac = dot + 1;
  if (c.length - frac <= scale) return false;
  for (let i = 0; i < scale; i++) if (c.charCodeAt(frac + i) !== 57) return false;
  return c.charCodeAt(frac + scale) >= 53;
}

export function exceedsUnconstrained(s: string): boolean {
  const dot = s.indexOf('.');
  const intLen = (dot === -1 ? s.length : dot) - (s.charCodeAt(0) === 45 ? 1 : 0);
  return intLen > NUMERIC_MAX_INTEGER || (dot !== -1 && s.length - dot - 1 > NUMERIC_MAX_FRACTION);
}

export function badTextReason(s: string): string | null {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0) return `text without NUL characters, got NUL at index ${i}`;
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
      else return `well-formed Unicode text, got an unpaired surrogate at index ${i}`;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return `well-formed Unicode text, got an unpaired surrogate at index ${i}`;
    }
  }
  return null;
}

export function codePointLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdbff) n++;
    else if (i + 1 < s.length) {
      n++;
      i++;
    } else n++;
  }
  return n;
}

/**
 * The conflict-key form of an instant: whole epoch seconds and microseconds, rounded the way
 * PostgreSQL stores a timestamptz (rint of the fraction × 10^6, halves to even), so two
 * spellings share a key exactly when PostgreSQL stores the same value. `wholeSecondMs` is the
 * instant's epoch ms without its fraction; `micros` comes from microsOf.
 */
export function instantKey(wholeSecondMs: number, micros: number): string {
  let sec = wholeSecondMs / 1000;
  let us = micros;
  if (us === 1_000_000) {
    sec++;
    us = 0;
  }
  return `${sec}.${String(us).padStart(6, '0')}`;
}

/** The key of an instant given as integer epoch milliseconds. */
export function epochMsKey(ms: number): string {
  const whole = Math.floor(ms / 1000) * 1000;
  return instantKey(whole, (ms - whole) * 1000);
}

/** The digits after a seconds' decimal point → microseconds before the carry, as PostgreSQL rounds them. */
export function microsOf(fraction: string): number {
  // Up to six digits the product is exact; past that, the same double arithmetic PostgreSQL does.
  if (fraction.length <= 6) return Number(fraction.padEnd(6, '0'));
  const x = Number(`0.${fraction}`) * 1e6;
  const f = Math.floor(x);
  const d = x - f;
  return d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
}
