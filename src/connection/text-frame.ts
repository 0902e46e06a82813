/** First byte of a complete text frame: FIN set, opcode 0x1 (RFC 6455 §5.2). */
const FIN_TEXT = 0x81;
const MAX_7BIT = 125;
const MAX_16BIT = 0xffff;
const LENGTH_16BIT = 126;
const LENGTH_64BIT = 127;

/**
 * The complete wire bytes of one server-to-client text frame: header and UTF-8 payload in a
 * single buffer. Servers do not mask and permessage-deflate is off, so these bytes are the
 * frame for every recipient, and a socket takes them in one write (ws's `send` makes a
 * separate header buffer and two writes per frame).
 */
export function encodeTextFrame(text: string): Buffer {
  const length = Buffer.byteLength(text);
  const headerLength = length <= MAX_7BIT ? 2 : length <= MAX_16BIT ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + length);
  frame[0] = FIN_TEXT;
  if (headerLength === 2) {
    frame[1] = length;
  } else if (headerLength === 4) {
    frame[1] = LENGTH_16BIT;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = LENGTH_64BIT;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  frame.write(text, headerLength, 'utf8');
  return frame;
}
