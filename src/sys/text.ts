// Text from outside (file and interface names, ping output, children's stderr, status.json, config
// values) made safe for a journal line or a terminal: control characters become visible escapes, so a
// newline cannot forge a log line with its own <N> priority and an escape code cannot drive a terminal.

const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

export function neutralise(s: string): string {
  return s.replace(UNSAFE, (c) => {
    const n = c.charCodeAt(0);
    return n < 0x100 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16)}`;
  });
}

/** Splits a stream into lines, holding at most `max` characters of an unfinished one (the rest is dropped). */
export class LineBuffer {
  private partial = '';
  private dropping = false;

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly max = 4096,
  ) {}

  push(chunk: string | Buffer): void {
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop() ?? '';
    for (const l of parts) {
      // A line that overflowed was already cut; its tail up to the newline is dropped, not a line of its own.
      if (this.dropping) this.dropping = false;
      else this.onLine(l);
    }
    if (this.partial.length > this.max) {
      if (!this.dropping) this.onLine(this.partial.slice(0, this.max));
      this.dropping = true;
      this.partial = '';
    }
  }
}
