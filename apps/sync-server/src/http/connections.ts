import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Config } from '../config.js';

export type ConnectionLimits = Pick<Config, 'HTTP_HEADERS_TIMEOUT_MS' | 'HTTP_REQUEST_TIMEOUT_MS' | 'HTTP_KEEP_ALIVE_TIMEOUT_MS' | 'HTTP_MAX_CONNECTIONS'>;

/**
 * Bounds what an anonymous client can hold open. Node's own timeouts cover a request that has
 * started (headers, whole request, keep-alive idle), but not a TCP connection that never sends a
 * byte: each connection therefore gets `HTTP_HEADERS_TIMEOUT_MS` to complete its first request's
 * headers (an HTTP request or a WebSocket upgrade), or it is destroyed. `maxConnections` caps
 * the file descriptors and memory all sockets together take; an upgraded WebSocket still counts.
 */
export function applyConnectionLimits(server: Server, limits: ConnectionLimits): void {
  server.headersTimeout = limits.HTTP_HEADERS_TIMEOUT_MS;
  server.requestTimeout = limits.HTTP_REQUEST_TIMEOUT_MS;
  server.keepAliveTimeout = limits.HTTP_KEEP_ALIVE_TIMEOUT_MS;
  server.maxConnections = limits.HTTP_MAX_CONNECTIONS;

  const firstRequest = new WeakMap<Socket, NodeJS.Timeout>();
  const arrived = (socket: Socket): void => {
    const timer = firstRequest.get(socket);
    if (timer === undefined) return;
    clearTimeout(timer);
    firstRequest.delete(socket);
  };
  server.on('connection', (socket: Socket) => {
    const timer = setTimeout(() => {
      firstRequest.delete(socket);
      socket.destroy();
    }, limits.HTTP_HEADERS_TIMEOUT_MS);
    timer.unref();
    firstRequest.set(socket, timer);
    socket.once('close', () => arrived(socket));
  });
  server.on('request', (req) => arrived(req.socket));
  server.on('upgrade', (req) => arrived(req.socket));
}

/**
 * How often Node checks running requests against `headersTimeout` and `requestTimeout` (its
 * default, 30 s, would let partial headers live far longer than the timeout says).
 */
export const connectionsCheckingIntervalMs = (limits: ConnectionLimits): number => Math.min(5_000, Math.max(50, Math.floor(limits.HTTP_HEADERS_TIMEOUT_MS / 4)));
