/** The SDK's SSE parser (WHATWG "Interpreting an event stream"), fed in every possible chunking. */
import { describe, expect, it } from 'vitest';
import { createSseParser, type SseMessage } from '../../src/client/sse-parser.js';

type Seen = { event: SseMessage } | { id: string } | { comment: string } | { retry: number };

function parse(chunks: readonly string[]): Seen[] {
  const seen: Seen[] = [];
  const parser = createSseParser({
    onEvent: (event) => seen.push({ event }),
    onId: (id) => seen.push({ id }),
    onComment: (comment) => seen.push({ comment }),
    onRetry: (retry) => seen.push({ retry }),
  });
  for (const chunk of chunks) parser.feed(chunk);
  return seen;
}

/** Every split of `text` into two chunks, plus one character per chunk. */
function chunkings(text: string): string[][] {
  const out: string[][] = [[text], [...text]];
  for (let at = 1; at < text.length; at++) out.push([text.slice(0, at), text.slice(at)]);
  return out;
}

const STREAM =
  '\uFEFFretry: 2000\r\n\r\n: heartbeat\r\nid: evt_1\r\nevent: grant.created\r\ndata: {"a":1}\r\n\r\n' +
  'id: evt_2\rdata: line one\rdata: line two\r\rid: evt_3\n\ndata\ndata:\n\n:no space\nretry: 1x\nunknown: field\nid: a\u0000b\ndata: x\n\n';

const EXPECTED: Seen[] = [
  { retry: 2000 },
  { comment: 'heartbeat' },
  { event: { id: 'evt_1', event: 'grant.created', data: '{"a":1}' } },
  { event: { id: 'evt_2', event: undefined, data: 'line one\nline two' } },
  { id: 'evt_3' },
  { event: { id: undefined, event: undefined, data: '\n' } },
  { comment: 'no space' },
  { event: { id: undefined, event: undefined, data: 'x' } },
];

describe('createSseParser', () => {
  it.each(chunkings(STREAM).map((chunks) => [chunks.length, chunks] as const))('parses the same blocks in %i chunk(s)', (_n, chunks) => {
    expect(parse(chunks)).toEqual(EXPECTED);
  });

  it('reports an id: line without data as an id-only block (eventsource-parser drops it)', () => {
    expect(parse(['id: evt_01JF3K9Y6Q2W8E4R5T7Y9U1I3O\n\n', 'id: evt_2\nevent: x\ndata: {}\n\n'])).toEqual([
      { id: 'evt_01JF3K9Y6Q2W8E4R5T7Y9U1I3O' },
      { event: { id: 'evt_2', event: 'x', data: '{}' } },
    ]);
  });

  it('keeps a partial block across chunks and forgets it on reset()', () => {
    const seen: SseMessage[] = [];
    const parser = createSseParser({ onEvent: (event) => seen.push(event) });
    parser.feed('id: evt_1\ndata: half');
    parser.reset();
    parser.feed('data: whole\n\n');
    expect(seen).toEqual([{ id: undefined, event: undefined, data: 'whole' }]);
  });

  it('throws a RangeError for a line or an event over the limit', () => {
    expect(() => createSseParser({}, 10).feed('data: 0123456789')).toThrow(RangeError);
    const parser = createSseParser({}, 10);
    expect(() => parser.feed('data: 0123\ndata: 4567\ndata: 89\n')).toThrow(RangeError);
  });
});
