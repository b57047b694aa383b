// The fast path's output buffers (flat-row.ts): the COPY line and the conflict key are written
// byte by byte here and read out as one string each. Key parts arrive in column order and are
// kept per key position, then joined in key order with NUL between them, as the full path does.
import { BACKSLASH } from './byte-forms.js';

export class RowScratch {
  private out = Buffer.allocUnsafe(1024);
  private kb = Buffer.allocUnsafe(256);
  private kf = Buffer.allocUnsafe(256);
  pos = 0;
  private kpos = 0;
  private openAt = 0;
  private readonly keyStart: Int32Array;
  /** -1 while a key part is not written yet. */
  readonly keyEnd: Int32Array;

  constructor(private readonly keyCount: number) {
    this.keyStart = new Int32Array(keyCount);
    this.keyEnd = new Int32Array(keyCount);
  }

  reset(): void {
    this.pos = 0;
    this.kpos = 0;
  }

  row(): string {
    return this.out.toString('latin1', 0, this.pos);
  }

  key(): string {
    return this.keyCount === 0 ? '' : this.joinKey();
  }

  /** The row from byte `from` on, as text. */
  tail(from: number): string {
    return this.out.toString('latin1', from, this.pos);
  }

  /** `src[s..e)` to the row, upper-casing a-z. */
  copyUpper(src: Uint8Array, s: number, e: number): void {
    this.ensure(e - s);
    const out = this.out;
    let pos = this.pos;
    for (let i = s; i < e; i++) {
      const x = src[i]!;
      out[pos++] = x >= 0x61 && x <= 0x7a ? x - 0x20 : x;
    }
    this.pos = pos;
  }

  private ensure(extra: number): void {
    if (this.pos + extra <= this.out.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.out.length * 2, this.pos + extra));
    this.out.copy(next, 0, 0, this.pos);
    this.out = next;
  }

  put(x: number): void {
    this.ensure(1);
    this.out[this.pos++] = x;
  }

  copy(src: Uint8Array, s: number, e: number): void {
    this.ensure(e - s);
    const out = this.out;
    let pos = this.pos;
    for (let i = s; i < e; i++) out[pos++] = src[i]!;
    this.pos = pos;
  }

  /** A converted value (never escaped: false if it would need it) to the row, or to key part `keyPos`. */
  ascii(v: string, keyPos: number, both: boolean): boolean {
    for (let i = 0; i < v.length; i++) {
      const x = v.charCodeAt(i);
      if (x < 0x20 || x > 0x7e || x === BACKSLASH) return false;
    }
    const toRow = keyPos < 0 || both;
    if (toRow) {
      this.ensure(v.length);
      for (let i = 0; i < v.length; i++) this.out[this.pos++] = v.charCodeAt(i);
    }
    if (keyPos >= 0) {
      this.keyOpen();
      for (let i = 0; i < v.length; i++) this.keyByte(v.charCodeAt(i));
      this.keyClose(keyPos);
    }
    return true;
  }

  /** The key part is the row's value as written (text, uuid lower-cased), unless set already. */
  keyFromRow(keyPos: number, from: number, lower: boolean): void {
    this.keyOpen();
    for (let i = from; i < this.pos; i++) {
      const x = this.out[i]!;
      this.keyByte(lower && x >= 0x41 && x <= 0x5a ? x + 0x20 : x);
    }
    this.keyClose(keyPos);
  }

  keyBytes(keyPos: number, src: Uint8Array, s: number, e: number): void {
    this.keyOpen();
    for (let i = s; i < e; i++) this.keyByte(src[i]!);
    this.keyClose(keyPos);
  }

  private keyOpen(): void {
    this.openAt = this.kpos;
  }

  private keyClose(keyPos: number): void {
    this.keyStart[keyPos] = this.openAt;
    this.keyEnd[keyPos] = this.kpos;
  }

  private keyByte(x: number): void {
    if (this.kpos === this.kb.length) {
      const next = Buffer.allocUnsafe(this.kb.length * 2);
      this.kb.copy(next);
      this.kb = next;
    }
    this.kb[this.kpos++] = x;
  }

  private joinKey(): string {
    let len = this.keyCount - 1;
    for (let k = 0; k < this.keyCount; k++) len += this.keyEnd[k]! - this.keyStart[k]!;
    if (this.kf.length < len) this.kf = Buffer.allocUnsafe(len * 2);
    const kf = this.kf;
    const kb = this.kb;
    let at = 0;
    for (let k = 0; k < this.keyCount; k++) {
      if (k > 0) kf[at++] = 0;
      for (let i = this.keyStart[k]!; i < this.keyEnd[k]!; i++) kf[at++] = kb[i]!;
    }
    return kf.toString('latin1', 0, at);
  }
}
