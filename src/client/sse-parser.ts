/**
 * An incremental Server-Sent Events parser (WHATWG HTML, "Interpreting an event stream",
 * https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation) that
 * reports every block a client may need, including one the browser's EventSource never dispatches:
 * an `id:` line with no `data:` (a bundle's `form: id-only` resume point). eventsource-parser drops
 * such a block, so a client that used it could not resume from the resume point of a live-only
 * stream before its first event.
 *
 * Lines end with CRLF, LF or CR (a CR at the end of one chunk and an LF at the start of the next are
 * one line end); a leading BOM is skipped; a field without a colon has an empty value; one space
 * after the colon is removed; an `id` containing NUL is ignored; `retry` must be ASCII digits.
 */

/** One dispatched block with data lines. */
export interface SseMessage {
  /** The block's own `id:` value, if it had one (not the stream's remembered last event id). */
  id: string | undefined;
  /** The `event:` name, if any (undefined: an unnamed `message`). */
  event: string | undefined;
  /** The data lines joined by `\n`. */
  data: string;
}

/** What the parser reports. Every callback is optional. */
export interface SseParserCallbacks {
  /** A block with at least one `data:` line. */
  onEvent?(message: SseMessage): void;
  /** A block with an `id:` line and no `data:` line (an id-only resume point). */
  onId?(id: string): void;
  /** A comment line (the text after `:`, one leading space removed). */
  onComment?(text: string): void;
  /** A valid `retry:` value, in milliseconds. */
  onRetry?(ms: number): void;
}

/** Feeds text chunks in; `reset()` forgets a partial block (a new connection). */
export interface SseParser {
  feed(chunk: string): void;
  reset(): void;
}

/**
 * Creates a parser. `maxLineLength` (default 16 Mi UTF-16 code units) bounds the memory one
 * unterminated line, or one block's data, may take: past it `feed` throws a RangeError, which the
 * SDK treats as a protocol fault of the connection.
 */
export function createSseParser(callbacks: SseParserCallbacks, maxLineLength = 16 * 1024 * 1024): SseParser {
  /** The current line's text so far (no line end seen yet). */
  let buffer = '';
  let first = true;
  let skipLf = false;
  let id: string | undefined;
  let event: string | undefined;
  let data: string[] = [];
  let dataLength = 0;

  const dispatch = () => {
    if (data.length > 0) callbacks.onEvent?.({ id, event, data: data.join('\n') });
    else if (id !== undefined) callbacks.onId?.(id);
    id = undefined;
    event = undefined;
    data = [];
    dataLength = 0;
  };

  const line = (text: string) => {
    if (text === '') return dispatch();
    if (text.startsWith(':')) {
      callbacks.onComment?.(text.startsWith(': ') ? text.slice(2) : text.slice(1));
      return;
    }
    const colon = text.indexOf(':');
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') {
      data.push(value);
      dataLength += value.length + 1;
      if (dataLength > maxLineLength) throw new RangeError(`an SSE event is longer than ${maxLineLength} characters`);
    }
    else if (field === 'event') event = value;
    else if (field === 'id') {
      if (!value.includes('\0')) id = value;
    } else if (field === 'retry') {
      if (/^[0-9]+$/.test(value)) callbacks.onRetry?.(Number(value));
    }
  };

  return {
    feed(chunk) {
      let text = chunk;
      if (first && text.length > 0) {
        first = false;
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      }
      if (skipLf && text.startsWith('\n')) text = text.slice(1);
      skipLf = false;
      let start = 0;
      const eol = /\r\n|\r|\n/g;
      for (let match = eol.exec(text); match !== null; match = eol.exec(text)) {
        const whole = buffer + text.slice(start, match.index);
        buffer = '';
        line(whole);
        start = match.index + match[0].length;
        // A CR that ends the chunk may be the first half of a CRLF: skip an LF that starts the next one.
        if (match[0] === '\r' && start === text.length) skipLf = true;
      }
      buffer += text.slice(start);
      if (buffer.length > maxLineLength) throw new RangeError(`an SSE line is longer than ${maxLineLength} characters`);
    },
    reset() {
      buffer = '';
      first = true;
      skipLf = false;
      id = undefined;
      event = undefined;
      data = [];
      dataLength = 0;
    },
  };
}
