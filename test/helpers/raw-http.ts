import { connect, type Socket } from 'node:net';

/** A response read off a raw socket. */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The parsed JSON body, when the response says it is JSON. */
  json: Record<string, unknown> | undefined;
  /** True when the server closed the connection after the response. */
  closed: boolean;
  /** How the exchange ended: the server closed, or reset the connection. */
  ending: 'close' | 'reset';
}

/**
 * Opens a TCP connection to `url`'s host and port, lets `send` write to it (raw bytes, at its own
 * pace), and resolves with the first response once the server closed the connection or the
 * response is complete and `untilClose` is false. Rejects when nothing complete arrived within `timeoutMs`.
 */
export function rawExchange(
  url: string,
  send: (socket: Socket) => void,
  options: { timeoutMs?: number; untilClose?: boolean } = {},
): Promise<RawResponse> {
  const { port, hostname } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let data = Buffer.alloc(0);
    let ending: 'close' | 'reset' = 'close';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete response within ${options.timeoutMs ?? 10_000} ms; got ${JSON.stringify(data.toString().slice(0, 300))}`));
    }, options.timeoutMs ?? 10_000);
    const finish = (closed: boolean) => {
      const parsed = parse(data);
      if (!parsed) return false;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...parsed, closed, ending });
      return true;
    };
    socket.on('connect', () => send(socket));
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      if (!options.untilClose) finish(false);
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNRESET') ending = 'reset';
    });
    socket.on('close', () => {
      if (!finish(true)) {
        clearTimeout(timer);
        reject(new Error(`connection ${ending === 'reset' ? 'reset' : 'closed'} without a complete response; got ${JSON.stringify(data.toString().slice(0, 300))}`));
      }
    });
  });
}

function parse(data: Buffer): Omit<RawResponse, 'closed' | 'ending'> | undefined {
  const end = data.indexOf('\r\n\r\n');
  if (end === -1) return undefined;
  const [statusLine, ...lines] = data.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1]);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] ?? 'NaN');
  const rest = data.subarray(end + 4);
  if (Number.isFinite(length) && rest.length < length) return undefined;
  const body = (Number.isFinite(length) ? rest.subarray(0, length) : rest).toString('utf8');
  const json = (headers['content-type'] ?? '').includes('json') && body !== '' ? (JSON.parse(body) as Record<string, unknown>) : undefined;
  return { status, headers, body, json };
}
