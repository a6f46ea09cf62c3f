// Small HTTP listeners shared by the healthz, metrics and health-check node port servers.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseHostPort } from '../config/values.js';

export interface Listening {
  server: http.Server;
  port: number;
  close(): Promise<void>;
}

/** A validated bind address (runtime/config/values.ts parses it); an empty host is every IPv4 address. */
export function splitHostPort(hostPort: string): { host: string; port: number } {
  const hp = parseHostPort(hostPort);
  if (!hp) throw new Error(`expected host:port, got "${hostPort}"`);
  return { host: hp.host === '' ? '0.0.0.0' : hp.host, port: hp.port };
}

export function listen(host: string, port: number, handler: http.RequestListener): Promise<Listening> {
  const server = http.createServer(handler);
  // Health probes and scrapers reconnect freely; idle keep-alive sockets must not delay shutdown.
  server.keepAliveTimeout = 5_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve({
        server,
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((r) => {
            server.close(() => r());
            server.closeAllConnections();
          }),
      });
    });
  });
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: http.OutgoingHttpHeaders = {}): void {
  sendText(res, status, JSON.stringify(body), headers);
}

/** kube-proxy's health responses: JSON with X-Content-Type-Options nosniff. */
export function sendText(res: http.ServerResponse, status: number, text: string, headers: http.OutgoingHttpHeaders = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'X-Content-Type-Options': 'nosniff', ...headers });
  res.end(text);
}
