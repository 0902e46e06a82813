/** Finding R1: chat history is bounded in bytes, all commodities together, with LRU eviction of whole commodities. */
import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { chatEntryBytes, type ChatMessage, InMemoryChatHistoryStore } from '../../src/chat/chat-history.store.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const MIB = 1024 * 1024;
let seq = 0;

/** A message whose text is a fresh flat string (no rope sharing a common buffer). */
function message(commodityId: number, chars: number): ChatMessage {
  seq += 1;
  return { id: `m${seq}`, commodityId, userId: 'u1', username: 'Ann', text: randomBytes(chars / 2).toString('hex'), timestamp: new Date().toISOString() };
}

describe('R1: chat history byte budget (in memory)', () => {
  it('R1: a flood over 400 commodities × 100 messages × 2,000 chars stays under CHAT_HISTORY_MAX_BYTES, heap included', async () => {
    const maxBytes = 8 * MIB;
    gc();
    const before = process.memoryUsage().heapUsed;
    const store = new InMemoryChatHistoryStore({ size: 100, ttlMs: 3_600_000, maxCommodities: 10_000, maxBytes });
    // 80 MB of text offered: ten times the budget.
    for (let commodity = 0; commodity < 400; commodity += 1) {
      for (let i = 0; i < 100; i += 1) await store.append(message(commodity, 2_000));
    }
    const sizes = await store.sizes();
    expect(sizes.bytes).toBeLessThanOrEqual(maxBytes);
    expect(sizes.bytes).toBeGreaterThan(maxBytes - 101 * 2_200); // full up to one history, not emptied
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    // Margin: objects around each ~2 KB text (message, entry, array slot) are ~15%, plus 2 MiB of noise.
    expect(grown).toBeLessThan(maxBytes * 1.15 + 2 * MIB);
    // The most recent commodities survive whole, the least recent are gone whole.
    expect(await store.recent(399, 100)).toHaveLength(100);
    expect(await store.recent(0, 100)).toHaveLength(0);
    expect(sizes.commodities).toBe(Math.floor(sizes.messages / 100) + (sizes.messages % 100 ? 1 : 0));
  });

  it('R1: reads count as use: a commodity read recently outlives one written earlier', async () => {
    const one = chatEntryBytes(message(1, 100));
    const store = new InMemoryChatHistoryStore({ size: 10, ttlMs: 3_600_000, maxCommodities: 100, maxBytes: 3 * one });
    await store.append(message(1, 100));
    await store.append(message(2, 100));
    await store.recent(1, 10);
    await store.append(message(3, 100));
    await store.append(message(4, 100));
    expect(await store.recent(2, 10)).toEqual([]);
    expect(await store.recent(1, 10)).toHaveLength(1);
    expect(await store.sizes()).toEqual({ commodities: 3, messages: 3, bytes: 3 * one });
  });

  it('R1: one commodity alone over the budget keeps its newest messages that fit', async () => {
    const one = chatEntryBytes(message(1, 100));
    const store = new InMemoryChatHistoryStore({ size: 100, ttlMs: 3_600_000, maxCommodities: 100, maxBytes: 5 * one });
    const sent: ChatMessage[] = [];
    for (let i = 0; i < 20; i += 1) {
      const m = message(7, 100);
      sent.push(m);
      await store.append(m);
    }
    expect(await store.recent(7, 100)).toEqual(sent.slice(-5));
    expect((await store.sizes()).bytes).toBe(5 * one);
  });
});
