// Error messages for undecodable JSON: V8 omits the position for some syntax errors, so a
// small scan finds where parsing stopped. Runs only on the error path.

export function jsonErrorMessage(e: unknown, text: string): string {
  const msg = e instanceof Error ? e.message : String(e);
  // V8 gives the position for most errors but not for "Unexpected token"; find it ourselves then.
  if (/\bposition \d+/.test(msg)) return `value: invalid JSON: ${msg}`;
  const at = jsonErrorPosition(text);
  return `value: invalid JSON: ${msg}${at === undefined ? '' : ` (at position ${at})`}`;
}

/**
 * Where JSON.parse gave up, found by a small syntax scan (error path only). Undefined when the
 * scan does not fail where V8 did or nests too deep for the stack.
 */
function jsonErrorPosition(text: string): number | undefined {
  const scan = new JsonScan(text);
  try {
    if (scan.value()) {
      scan.ws();
      if (scan.i === text.length) return undefined;
    }
    return scan.i;
  } catch {
    return undefined;
  }
}

class JsonScan {
  i = 0;
  private static readonly NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  constructor(private readonly t: string) {}

  ws(): void {
    for (let c = this.t.charCodeAt(this.i); c === 32 || c === 9 || c === 10 || c === 13;) {
      c = this.t.charCodeAt(++this.i);
    }
  }

  value(): boolean {
    this.ws();
    switch (this.t[this.i]) {
      case '{':
        return this.list('}', true);
      case '[':
        return this.list(']', false);
      case '"':
        return this.string();
      case 't':
        return this.literal('true');
      case 'f':
        return this.literal('false');
      case 'n':
        return this.literal('null');
      default: {
        JsonScan.NUMBER.lastIndex = this.i;
        if (!JsonScan.NUMBER.test(this.t)) return false;
        this.i = JsonScan.NUMBER.lastIndex;
        return true;
      }
    }
  }

  private list(close: string, members: boolean): boolean {
    this.i++;
    this.ws();
    if (this.t[this.i] === close) return this.step();
    for (;;) {
      if (members) {
        this.ws();
        if (this.t[this.i] !== '"' || !this.string()) return false;
        this.ws();
        if (this.t[this.i] !== ':') return false;
        this.i++;
      }
      if (!this.value()) return false;
      this.ws();
      const c = this.t[this.i];
      if (c === close) return this.step();
      if (c !== ',') return false;
      this.i++;
    }
  }

  private string(): boolean {
    for (this.i++; this.i < this.t.length; this.i++) {
      const c = this.t.charCodeAt(this.i);
      if (c === 34) return this.step();
      if (c < 0x20) return false;
      if (c === 92) {
        const e = this.t[++this.i];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(this.t.slice(this.i + 1, this.i + 5))) return false;
          this.i += 4;
        } else if (e === undefined || !'"\\/bfnrt'.includes(e)) return false;
      }
    }
    return false;
  }

  /** Consumes the closing character. */
  private step(): true {
    this.i++;
    return true;
  }

  private literal(word: string): boolean {
    for (let k = 0; k < word.length; k++, this.i++) if (this.t[this.i] !== word[k]) return false;
    return true;
  }
}
