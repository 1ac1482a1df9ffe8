/**
 * Removes HTTP/1.1 chunked framing from a response body. Node only frames a response this way
 * when the app itself sets `Transfer-Encoding: chunked`; FastCGI and uwsgi bodies must reach
 * nginx unframed, or the client receives the chunk sizes as part of the body.
 */
export class ChunkedBodyDecoder {
  #state: 'size' | 'data' | 'data-crlf' | 'trailer' | 'done' = 'size';
  #line = '';
  #remaining = 0;

  get done(): boolean {
    return this.#state === 'done';
  }

  /** Returns the body bytes contained in `chunk` (zero-copy slices where possible). */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let i = 0;
    while (i < chunk.length && this.#state !== 'done') {
      if (this.#state === 'data') {
        const n = Math.min(this.#remaining, chunk.length - i);
        out.push(chunk.subarray(i, i + n));
        i += n;
        this.#remaining -= n;
        if (this.#remaining === 0) this.#state = 'data-crlf';
        continue;
      }
      const byte = chunk[i++] as number;
      if (byte !== 0x0a) {
        if (byte !== 0x0d) this.#line += String.fromCharCode(byte);
        continue;
      }
      const line = this.#line;
      this.#line = '';
      if (this.#state === 'size') {
        this.#remaining = Number.parseInt(line.split(';')[0] ?? '', 16) || 0;
        this.#state = this.#remaining === 0 ? 'trailer' : 'data';
      } else if (this.#state === 'data-crlf') {
        this.#state = 'size';
      } else if (line === '') {
        this.#state = 'done';
      }
    }
    return out;
  }
}
