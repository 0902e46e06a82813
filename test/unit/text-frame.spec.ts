import * as ws from 'ws';
import { encodeTextFrame } from '../../src/connection/text-frame.js';

/** ws's own frame builder and parser (exported by ws, missing from its typings): the reference. */
const { Sender, Receiver } = ws as unknown as {
  Sender: { frame(data: Buffer, options: { fin: boolean; rsv1: boolean; opcode: number; mask: boolean; readOnly: boolean }): Buffer[] };
  Receiver: new (options: { isServer: boolean }) => NodeJS.WritableStream & { on(event: 'message', listener: (data: Buffer) => void): void };
};

function reference(text: string): Buffer {
  return Buffer.concat(Sender.frame(Buffer.from(text), { fin: true, rsv1: false, opcode: 0x01, mask: false, readOnly: false }));
}

describe('encodeTextFrame (one buffer per server frame)', () => {
  it.each([0, 1, 125, 126, 127, 65_535, 65_536, 200_000])('matches ws byte for byte at %i payload bytes', (size) => {
    const text = 'x'.repeat(size);
    expect(encodeTextFrame(text).equals(reference(text))).toBe(true);
  });

  it('measures the payload in UTF-8 bytes, not characters', () => {
    const text = `{"event":"chat","data":{"text":"${'é😀'.repeat(40)}"}}`;
    const frame = encodeTextFrame(text);
    expect(frame.equals(reference(text))).toBe(true);
    expect(frame.length).toBe(4 + Buffer.byteLength(text));
  });

  it('is read back by ws as the same text', async () => {
    const receiver = new Receiver({ isServer: false });
    const text = JSON.stringify({ event: 'pong', data: { timestamp: new Date(0).toISOString() }, id: 7 });
    const got = new Promise<string>((resolve) => receiver.on('message', (data: Buffer) => resolve(data.toString())));
    receiver.write(encodeTextFrame(text));
    expect(await got).toBe(text);
  });
});
