/**
 * Knows which of a server's connections are in the middle of a request, so that shutdown can close
 * every other one at once. Node's own `closeIdleConnections()` leaves out a connection on which the
 * client never sent a request (a pooled client's spare socket), which then holds `server.close()`
 * until the client's keep-alive timeout.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export interface ConnectionTracker {
  /** Destroys every connection not serving a request now. */
  closeIdle(): void;
}

export function trackConnections(server: Server): ConnectionTracker {
  /** Open connections, each with how many of its requests are still being answered. */
  const busy = new Map<Socket, number>();
  server.on('connection', (socket: Socket) => {
    busy.set(socket, 0);
    socket.once('close', () => busy.delete(socket));
  });
  server.on('request', (request, response) => {
    const socket = request.socket;
    busy.set(socket, (busy.get(socket) ?? 0) + 1);
    response.once('close', () => {
      if (busy.has(socket)) busy.set(socket, Math.max(0, busy.get(socket)! - 1));
    });
  });
  return {
    closeIdle() {
      for (const [socket, requests] of busy) if (requests === 0) socket.destroy();
    },
  };
}
