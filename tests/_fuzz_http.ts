/**
 * The HTTP side of the server fuzz: plans of what one connection sends to `--http-port`
 * (radare2-style requests with raw spaces, keep-alive and pipelined runs, mutated request
 * lines, header fields and bodies, huge heads, slow heads and bodies, idle kept-alive
 * connections), a strict reader of the replies, and the runner of one connection.
 *
 * @module
 */

import { concatBytes as join } from "../lib/protocol/bytes.ts";
import { WatchedConn } from "./_fuzz_conn.ts";
import { LeakScanner } from "./_fuzz_findings.ts";
import { mutateBytes } from "./_mutate.ts";
import type { Random } from "./_random.ts";

const encoder = new TextEncoder();

/** One step of a plan: wait, send, then (optionally) wait for replies. */
export interface HttpStep {
  /** Milliseconds to wait before sending (slow senders). */
  pauseMs: number;
  /** The bytes. */
  bytes: Uint8Array;
  /** Wait until this many replies in all have come before the next step. */
  awaitReplies?: number;
}

/** What one HTTP connection does. */
export interface HttpPlan {
  /** The kind, for the report (`simple`, `keep-alive`, `pipelined`, `mutated` ...). */
  kind: string;
  /** The steps. */
  steps: HttpStep[];
  /** Requests in the plan (complete or not). */
  requests: number;
  /** Half-close after the last step (else wait for the server to close, as radare2 does). */
  closeWrite: boolean;
}

/** What {@linkcode runHttpConnection} saw. */
export interface HttpOutcome {
  /** The bytes the socket accepted. */
  sent: number;
  /** Reply bytes received. */
  received: number;
  /** Status of every final reply, in order. */
  statuses: number[];
  /** Why the replies did not parse, if they did not. */
  badReply: string | undefined;
  /** No byte either way for the hang deadline while the server had something to do. */
  hung: boolean;
  /** A marker (outside bytes) found in a reply. */
  leaked: boolean;
  /** Whether the connection could not be made. */
  refused: boolean;
}

/**
 * Commands the fuzzing requests carry (raw, before any encoding), some naming the server's
 * own ports.
 *
 * @param ports The server's RAP and HTTP ports.
 * @returns The commands.
 *
 * @example
 * ```ts
 * import { httpCommands } from "./_fuzz_http.ts";
 * console.assert(httpCommands({ rap: 1, http: 2 }).includes("=+ rap://127.0.0.1:1"));
 * ```
 */
export function httpCommands(ports: { rap: number; http: number }): string[] {
  return [
    "?e hello world",
    "?V",
    "",
    "p8 16",
    "p8 16 @ 0x100",
    "p8 4096",
    "p8 100000",
    "px 64",
    "px 32M",
    "pxw 32 @ 8",
    "x 32",
    "s 0x10",
    "s",
    "s+ 4",
    "b 256",
    "b 0x7fffffff",
    "i",
    "o",
    "o-*",
    "o-3",
    "w hello @ 0x20",
    "wx 414243 @ 0x40",
    "wz abc @ 0x60",
    "wx zz",
    "r 128K",
    "p8 16 @@s:0 256 16",
    "p8 4 @@= 0 4 8",
    "4p8 4",
    "100000000p8 1",
    "?e a;?e b;?e c",
    "px 16~00",
    "px 4096~ff",
    "p8 8 > /tmp/rap_fuzz_no",
    "!ls",
    "o /etc/passwd",
    "o malloc://16",
    `=+ rap://127.0.0.1:${ports.rap}`,
    `=+ rap://localhost:${ports.http}`,
    `o rap://127.0.0.1:${ports.rap}//malloc://16`,
    "=!?",
    "#comment",
    "?e " + "A".repeat(5000),
    "p8 $s",
    "p8 16 @ -1",
    "p8 0x7fffffff",
    "p8 16 @ 0xffffffffffffffff",
    "\x01\x02\x7f",
    "?e \u00e9\u4e2d\ud83d\ude00",
  ];
}

/** Header fields a server must take. */
const GOOD_HEADERS: readonly string[] = [
  "User-Agent: radare2 6.2.1",
  "Accept: */*",
  "Host: 127.0.0.1",
  "Content-Type: text/plain",
  "X-Empty:",
  "Authorization: Bearer nope",
  "Accept-Encoding: gzip, deflate",
];

/** Header fields that are wrong, conflicting or unsupported. */
const BAD_HEADERS: readonly string[] = [
  "Connection: close",
  "Connection: Keep-Alive, Upgrade",
  "Upgrade: h2c",
  "Expect: 100-continue",
  "Expect: something-else",
  "Transfer-Encoding: gzip",
  ":no-name",
  "No-Colon-Here",
  "Space-Before-Colon : x",
  " obs-fold continuation",
  "Content-Length: -1",
  "Content-Length: +5",
  "Content-Length: 0x10",
  "Content-Length: 99999999999999999999999",
  "Content-Length: 3, 4",
  "X-Nul: a\0b",
  "X-Cr: a\rb",
];

/** Percent-encode some or all bytes of `text` (or leave raw spaces, as radare2 sends). */
function encodeTarget(random: Random, text: string): string {
  switch (random.int(5)) {
    case 0:
      return encodeURIComponent(text);
    case 1:
      return text.replaceAll(" ", "%20");
    case 2:
      return text + random.pick(["%", "%z", "%zz", "%00", "%ff%fe", "%c0%af", "%2"]);
    default:
      return text; // raw spaces
  }
}

/**
 * One request with a random command; `dirty` ones may also have a strange method, version,
 * target, wrong header fields and a badly framed body.
 */
function request(
  random: Random,
  commands: readonly string[],
  keepAlive: boolean,
  dirty: boolean,
): Uint8Array {
  const command = random.pick(commands);
  const eol = !dirty || random.chance(0.9) ? "\r\n" : random.pick(["\n", "\r\n", "\n\r"]);
  const method = !dirty || random.chance(0.8)
    ? random.pick(["GET", "GET", "GET", "POST", "OPTIONS"])
    : random.pick(["HEAD", "PUT", "get", "DELETE", "CONNECT", "G ET", "", "PRI", "X".repeat(300)]);
  const version = !dirty || random.chance(0.8)
    ? random.pick(["HTTP/1.1", "HTTP/1.0"])
    : random.pick(["HTTP/1.2", "HTTP/2.0", "HTTP/0.9", "HTTP/1.1 ", "http/1.1", ""]);
  let target = method === "POST" ? "/cmd" : `/cmd/${encodeTarget(random, command)}`;
  if (dirty && random.chance(0.2)) {
    target = random.pick([
      "/",
      "/cmd",
      "/index.html",
      "*",
      "",
      `http://127.0.0.1/cmd/${encodeTarget(random, command)}`,
      "/cmd/" + "p".repeat(9000),
      "/../../etc/passwd",
    ]);
  }
  const lines = [`${method} ${target} ${version}`.trimEnd()];
  if (keepAlive) lines.push("Connection: keep-alive");
  const extra = random.chance(0.3) ? 1 + random.int(4) : 0;
  for (let i = 0; i < extra; i++) {
    lines.push(random.pick(dirty && random.chance(0.5) ? BAD_HEADERS : GOOD_HEADERS));
  }
  let body = new Uint8Array(0);
  if (method === "POST" || (dirty && random.chance(0.05))) {
    body = encoder.encode(command);
    const framing = dirty ? random.int(10) : random.int(6) === 0 ? 8 : 0;
    if (framing < 6) lines.push(`Content-Length: ${body.length}`);
    else if (framing === 6) lines.push(`Content-Length: ${Math.max(0, body.length - 2)}`);
    else if (framing === 7) lines.push(`Content-Length: ${body.length + 3}`);
    else {
      lines.push("Transfer-Encoding: chunked");
      if (framing === 9) lines.push(`Content-Length: ${body.length}`);
      const size = !dirty || random.chance(0.8)
        ? body.length.toString(16)
        : random.pick(["zz", "-1", ""]);
      const ext = dirty && random.chance(0.2) ? ";ext=1" : "";
      body = encoder.encode(`${size}${ext}\r\n${command}\r\n0\r\n\r\n`);
    }
  }
  return join([encoder.encode(lines.join(eol) + eol + eol), body]);
}

/**
 * A random plan for one connection.
 *
 * @param random The generator.
 * @param commands The command corpus ({@linkcode httpCommands}).
 * @returns The plan.
 *
 * @example
 * ```ts
 * import { buildHttpPlan } from "./_fuzz_http.ts";
 * import { Random } from "./_random.ts";
 * const plan = buildHttpPlan(new Random(1), ["?V"]);
 * console.assert(plan.steps.length > 0 && plan.requests > 0);
 * ```
 */
export function buildHttpPlan(random: Random, commands: readonly string[]): HttpPlan {
  const roll = random.int(100);
  const one = (keep = false, dirty = random.chance(0.1)) => request(random, commands, keep, dirty);
  if (roll < 30) {
    // radare2's client: one request, read until the server closes.
    return {
      kind: "simple",
      steps: [{ pauseMs: 0, bytes: one() }],
      requests: 1,
      closeWrite: random.chance(0.5),
    };
  }
  if (roll < 50) {
    const n = 2 + random.int(30);
    return {
      kind: "keep-alive",
      steps: Array.from({ length: n }, (_, i) => ({
        pauseMs: 0,
        bytes: one(true),
        awaitReplies: i + 1,
      })),
      requests: n,
      closeWrite: true,
    };
  }
  if (roll < 65) {
    const n = 2 + random.int(50);
    return {
      kind: "pipelined",
      steps: [{ pauseMs: 0, bytes: join(Array.from({ length: n }, () => one(true))) }],
      requests: n,
      closeWrite: true,
    };
  }
  if (roll < 85) {
    const n = 1 + random.int(5);
    const parts = Array.from({ length: n }, () => {
      const bytes = one(random.chance(0.5), true);
      return random.chance(0.5) ? mutateBytes(random, bytes) : bytes;
    });
    if (random.chance(0.2)) parts.push(random.bytes(1 + random.int(256)));
    return {
      kind: "mutated",
      steps: [{ pauseMs: 0, bytes: join(parts) }],
      requests: n,
      closeWrite: random.chance(0.9),
    };
  }
  if (roll < 90) {
    // Over the 8 KiB head limit: one huge field, or very many.
    const big = random.chance(0.5)
      ? `X-Big: ${"b".repeat(8192 + random.int(64 * 1024))}\r\n`
      : Array.from({ length: 2000 }, (_, i) => `X-${i}: v\r\n`).join("");
    return {
      kind: "huge-head",
      steps: [{ pauseMs: 0, bytes: encoder.encode(`GET /cmd/?V HTTP/1.1\r\n${big}\r\n`) }],
      requests: 1,
      closeWrite: random.chance(0.5),
    };
  }
  if (roll < 97) {
    // Slow: the head or a body in small pieces with pauses (some past --packet-timeout).
    const body = random.chance(0.5);
    const bytes = body
      ? encoder.encode(`POST /cmd HTTP/1.1\r\nContent-Length: 40\r\n\r\n?e ${"s".repeat(36)}\n`)
      : one();
    const cut = body ? bytes.length - 40 : 1 + random.int(Math.max(1, bytes.length - 1));
    const steps: HttpStep[] = [{ pauseMs: 0, bytes: bytes.subarray(0, cut) }];
    const pauseMs = random.pick([20, 50, 100, 250]);
    for (let at = cut; at < bytes.length;) {
      const end = Math.min(bytes.length, at + 1 + random.int(4));
      steps.push({ pauseMs, bytes: bytes.subarray(at, end) });
      at = end;
      if (steps.length > 40) break; // the rest never comes: the server's deadline ends it
    }
    return { kind: body ? "slow-body" : "slow-head", steps, requests: 1, closeWrite: true };
  }
  if (roll < 99) {
    // Over --http-max-body: answered 413 before the body is read.
    const head = `POST /cmd HTTP/1.1\r\nContent-Length: ${2 * 1024 * 1024}\r\n\r\n`;
    return {
      kind: "over-body",
      steps: [{ pauseMs: 0, bytes: join([encoder.encode(head), new Uint8Array(64 * 1024)]) }],
      requests: 1,
      closeWrite: false,
    };
  }
  // Kept alive, then idle until the server's keep-alive timeout closes it.
  return {
    kind: "idle-keep-alive",
    steps: [{ pauseMs: 0, bytes: one(true), awaitReplies: 1 }],
    requests: 1,
    closeWrite: false,
  };
}

/**
 * A strict reader of a stream of HTTP replies: a status line `HTTP/1.x NNN reason`, header
 * fields, a `Content-Length` on every final reply and exactly that many body bytes; a
 * `Connection: close` reply must be the last.
 *
 * @example
 * ```ts
 * import { HttpReplyReader } from "./_fuzz_http.ts";
 * import assert from "node:assert/strict";
 *
 * const reader = new HttpReplyReader();
 * reader.push(new TextEncoder().encode("HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nhi\n"));
 * assert.equal(reader.replies[0].status, 200);
 * assert.throws(() => reader.push(new TextEncoder().encode("junk\r\n\r\n")), SyntaxError);
 * ```
 */
export class HttpReplyReader {
  #buf = new Uint8Array(0);
  #closed = false;
  /** Final replies read: status and body. */
  readonly replies: { status: number; body: Uint8Array }[] = [];

  /** Whether the last reply said `Connection: close`. */
  get closing(): boolean {
    return this.#closed;
  }

  /**
   * Add received bytes and read every reply they complete.
   *
   * @param bytes The bytes.
   * @throws {SyntaxError} When they do not form well-made replies.
   */
  push(bytes: Uint8Array): void {
    if (this.#closed && bytes.length > 0) {
      throw new SyntaxError(`${bytes.length} bytes after a "Connection: close" reply`);
    }
    this.#buf = this.#buf.length === 0 ? bytes.slice() : join([this.#buf, bytes]).slice();
    for (;;) {
      const end = headEnd(this.#buf);
      if (end < 0) {
        if (this.#buf.length > 64 * 1024) throw new SyntaxError("reply head over 64 KiB");
        return;
      }
      const head = new TextDecoder("latin1").decode(this.#buf.subarray(0, end - 4));
      const [statusLine, ...fields] = head.split("\r\n");
      const m = /^HTTP\/1\.[01] (\d{3}) [^\r\n]*$/.exec(statusLine);
      if (!m) throw new SyntaxError(`bad status line ${JSON.stringify(statusLine.slice(0, 80))}`);
      const status = Number(m[1]);
      const headers = new Map<string, string>();
      for (const field of fields) {
        const colon = field.indexOf(":");
        if (colon <= 0) throw new SyntaxError(`bad field ${JSON.stringify(field.slice(0, 80))}`);
        headers.set(field.slice(0, colon).toLowerCase(), field.slice(colon + 1).trim());
      }
      if (status === 100) {
        this.#buf = this.#buf.slice(end);
        continue;
      }
      const lengthText = headers.get("content-length");
      if (lengthText === undefined || !/^\d+$/.test(lengthText)) {
        throw new SyntaxError(`status ${status} without a valid Content-Length`);
      }
      const length = Number(lengthText);
      if (this.#buf.length < end + length) return;
      this.replies.push({ status, body: this.#buf.slice(end, end + length) });
      this.#buf = this.#buf.slice(end + length);
      if (headers.get("connection")?.toLowerCase() === "close") {
        this.#closed = true;
        if (this.#buf.length > 0) {
          throw new SyntaxError(`${this.#buf.length} bytes after a "Connection: close" reply`);
        }
      }
    }
  }

  /**
   * The server closed: a reply cut short is an error.
   *
   * @throws {SyntaxError} When a reply was incomplete.
   */
  finish(): void {
    if (this.#buf.length > 0) {
      throw new SyntaxError(`connection closed inside a reply (${this.#buf.length} bytes)`);
    }
  }
}

function headEnd(buf: Uint8Array): number {
  for (let i = 3; i < buf.length; i++) {
    if (buf[i] === 0x0a && buf[i - 1] === 0x0d && buf[i - 2] === 0x0a && buf[i - 3] === 0x0d) {
      return i + 1;
    }
  }
  return -1;
}

/**
 * Run one plan against the HTTP port.
 *
 * @param port The HTTP port on 127.0.0.1.
 * @param plan The plan.
 * @param options The hang deadline, the markers to look for, and a hook called with the
 *   connection's local port once connected (to match server log lines).
 * @returns What happened.
 */
export async function runHttpConnection(
  port: number,
  plan: HttpPlan,
  options: { hangMs: number; markers: readonly Uint8Array[]; onConnect?: (port: number) => void },
): Promise<HttpOutcome> {
  const outcome: HttpOutcome = {
    sent: 0,
    received: 0,
    statuses: [],
    badReply: undefined,
    hung: false,
    leaked: false,
    refused: false,
  };
  const watched = await WatchedConn.open(port, options.hangMs, options.onConnect);
  if (watched === undefined) return { ...outcome, refused: true };
  const { conn } = watched;
  const reader = new HttpReplyReader();
  const leaks = new LeakScanner(options.markers);
  let wake: (() => void) | undefined;
  watched.onClose = () => wake?.();
  let eof = false;
  const reading = watched.readAll((chunk) => {
    outcome.received += chunk.length;
    if (leaks.scan(chunk)) outcome.leaked = true;
    if (outcome.badReply === undefined) {
      try {
        reader.push(chunk.slice());
      } catch (error) {
        outcome.badReply = (error as Error).message;
      }
    }
    wake?.();
  }).then(() => {
    // The end, or a reset: a reply cut short is bad either way (unless we closed it).
    eof = true;
    if (outcome.badReply === undefined && !watched.closed) {
      try {
        reader.finish();
      } catch (error) {
        outcome.badReply = (error as Error).message;
      }
    }
    wake?.();
  });
  try {
    for (const step of plan.steps) {
      if (step.pauseMs > 0) {
        await new Promise((resolve) => setTimeout(resolve, step.pauseMs));
        watched.arm();
      }
      if (watched.closed || eof) break;
      for (let at = 0; at < step.bytes.length;) {
        const n = await conn.write(step.bytes.subarray(at));
        at += n;
        outcome.sent += n;
        watched.arm();
      }
      while (
        step.awaitReplies !== undefined && reader.replies.length < step.awaitReplies &&
        !eof && !watched.closed && outcome.badReply === undefined
      ) {
        await new Promise<void>((resolve) => wake = resolve);
        wake = undefined;
      }
    }
    if (plan.closeWrite && !watched.closed) await conn.closeWrite();
  } catch {
    // The server closed or reset the connection (after an error reply, a deadline ...).
  }
  await reading;
  watched.close();
  outcome.hung = watched.hung;
  outcome.statuses = reader.replies.map((r) => r.status);
  return outcome;
}
