/**
 * Small pieces of the HTTP server: status texts, the reply head, log formatting and
 * timers as promises.
 *
 * @module
 */

import type { HttpResponse } from "./exchange.ts";

/** The reason phrases of the statuses the server sends. */
export const REASONS: Record<number, string> = {
  100: "Continue",
  200: "OK",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  408: "Request Timeout",
  413: "Payload Too Large",
  417: "Expectation Failed",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
};

const encoder = new TextEncoder();
/** Longest path shown in a log line. */
const LOGGED_PATH = 80;

/** `host:port` of an address (`[v6]:port` for IPv6). */
export function formatAddr(addr: Deno.Addr): string {
  if (addr.transport !== "tcp" && addr.transport !== "udp") return addr.transport;
  return `${addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname}:${addr.port}`;
}

/** The path of a request target: an absolute-form target (`GET http://host/cmd/x`) is its path. */
export function requestPath(target: string): string {
  return target.replace(/^https?:\/\/[^/]*/i, "");
}

/** A request target as shown in a log line: control bytes escaped, cut to a length. */
export function logPath(target: string, max = LOGGED_PATH): string {
  // deno-lint-ignore no-control-regex
  const shown = target.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16)}`);
  return shown.length > max ? `${shown.slice(0, max - 3)}...` : shown;
}

/** The head of a reply. */
export function replyHead(
  version: string,
  response: HttpResponse,
  length: number,
  keepAlive: boolean,
  keepAliveMs: number,
): Uint8Array {
  let text = `${version} ${response.status} ${REASONS[response.status] ?? "Unknown"}\r\n`;
  const type = response.contentType ?? (length > 0 ? "text/plain" : undefined);
  if (type !== undefined) text += `Content-Type: ${type}\r\n`;
  for (const [name, value] of Object.entries(response.headers ?? {})) {
    text += `${name}: ${value}\r\n`;
  }
  text += keepAlive
    ? `Connection: keep-alive\r\nKeep-Alive: timeout=${Math.ceil(keepAliveMs / 1000)}\r\n`
    : "Connection: close\r\n";
  text += `Content-Length: ${length}\r\n\r\n`;
  return encoder.encode(text);
}

/**
 * A few log lines a second for a repeated event (refused connections in a flood); the
 * rest are counted and the count is logged with the first line of the next second.
 */
export class RateLimitedLog {
  #start = 0;
  #count = 0;
  #unlogged = 0;
  constructor(readonly log: (line: string) => void, readonly perSecond = 5) {}
  line(text: string): void {
    const now = Date.now();
    if (now - this.#start >= 1000) {
      if (this.#unlogged > 0) this.log(`${text} (and ${this.#unlogged} more like it)`);
      this.#start = now;
      this.#count = 0;
      this.#unlogged = 0;
    }
    if (++this.#count <= this.perSecond) this.log(text);
    else this.#unlogged++;
  }
}

/** Close a connection that may be closed already. */
export function closeConn(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch { /* already closed */ }
}

/** A timer as a promise that rejects with `error` (handled: nobody need wait for it). */
export interface Timer {
  promise: Promise<never>;
  clear(): void;
}

/** Start a {@linkcode Timer} of `ms` milliseconds (0: never fires). */
export function timer(ms: number, error: () => Error): Timer {
  if (ms <= 0) return { promise: new Promise<never>(() => {}), clear: () => {} };
  let id: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<never>((_, reject) => id = setTimeout(() => reject(error()), ms));
  promise.catch(() => {});
  return { promise, clear: () => clearTimeout(id) };
}

/** Wait for `task` at most `ms` milliseconds (its failure is ignored). */
export async function awhile(task: Promise<unknown>, ms: number): Promise<void> {
  task.catch(() => {});
  const t = timer(ms, () => new Error("timeout"));
  try {
    await Promise.race([task, t.promise]);
  } catch {
    /* the task failed or the time is up */
  } finally {
    t.clear();
  }
}
