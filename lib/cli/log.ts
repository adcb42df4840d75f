/**
 * The log of `rap serve` (RAP and HTTP alike): each line with its time,
 * `2026-01-02T03:04:05.678Z [rap] 127.0.0.1:40272: connected`, or with
 * `--log-format json` one JSON object per line for a log collector:
 * `{"time":"...","level":"info","door":"rap","peer":"127.0.0.1:40272","message":"connected"}`.
 *
 * @module
 */

/**
 * How log lines are written: `text` (a time, then the line) or `json` (one object a line).
 *
 * @example
 * ```ts
 * import type { LogFormat } from "@rap/cli/commands";
 * const format: LogFormat = "json";
 * console.assert(format === "json");
 * ```
 */
export type LogFormat = "text" | "json";

/**
 * One log line taken apart: the door that logged it (`rap`, `http` ...), the peer it is
 * about, and what happened, with a level.
 *
 * @example
 * ```ts
 * import type { LogRecord } from "@rap/cli/commands";
 * const record: LogRecord = { level: "info", message: "connected" };
 * console.assert(record.level === "info");
 * ```
 */
export interface LogRecord {
  /** `warn` for refusals, closes with a reason, timeouts and failures; else `info`. */
  level: "info" | "warn";
  /** The tag of the line without brackets (`rap`, `http`), if it has one. */
  door?: string;
  /** The client's `HOST:PORT` (`[v6]:PORT`), if the line is about one. */
  peer?: string;
  /** The rest of the line. */
  message: string;
}

const TAG = /^\[([\w=+.-]+)\] ([\s\S]*)$/;
const PEER = /^((?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.%\w]+\]):\d+):? ([\s\S]*)$/;
const WARN =
  /\b(?:refused|closed(?::| to make room)|closing|timed out|warning|failed|error|cannot|not allowed)/i;

/**
 * Take a log line apart (see {@linkcode LogRecord}).
 *
 * @param line The line, as the server logs it.
 * @returns Its parts.
 *
 * @example
 * ```ts
 * import { parseLogLine } from "@rap/cli/commands";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseLogLine("[rap] 127.0.0.1:4000: closed: bad packet"), {
 *   level: "warn", door: "rap", peer: "127.0.0.1:4000", message: "closed: bad packet",
 * });
 * assert.deepEqual(parseLogLine("[http] [::1]:80 GET /cmd/px 200 5 B 0.3 ms"), {
 *   level: "info", door: "http", peer: "[::1]:80", message: "GET /cmd/px 200 5 B 0.3 ms",
 * });
 * ```
 */
export function parseLogLine(line: string): LogRecord {
  let rest = line;
  const record: LogRecord = { level: "info", message: "" };
  const tag = TAG.exec(rest);
  if (tag) {
    record.door = tag[1];
    rest = tag[2];
  }
  const peer = PEER.exec(rest);
  if (peer) {
    record.peer = peer[1];
    rest = peer[2];
  }
  record.message = rest;
  if (WARN.test(rest)) record.level = "warn";
  return record;
}

/**
 * Options of {@linkcode createLogger}.
 *
 * @example
 * ```ts
 * import type { LoggerOptions } from "@rap/cli/commands";
 * const options: LoggerOptions = { format: "text", now: () => new Date(0) };
 * console.assert(options.format === "text");
 * ```
 */
export interface LoggerOptions {
  /** `text` (default) or `json`. */
  format?: LogFormat;
  /**
   * Where each finished line goes (default: standard error).
   *
   * @param line The line, without a newline.
   */
  write?: (line: string) => void;
  /** The clock (default: `new Date()`). */
  now?: () => Date;
}

/**
 * A `log` function for `RapServer` and the HTTP endpoint that stamps each line with its
 * time, or writes it as one JSON object.
 *
 * @param options See {@linkcode LoggerOptions}.
 * @returns The function.
 *
 * @example
 * ```ts
 * import { createLogger } from "@rap/cli/commands";
 * import assert from "node:assert/strict";
 *
 * const lines: string[] = [];
 * const now = () => new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678));
 * createLogger({ write: (l) => lines.push(l), now })("[rap] 127.0.0.1:9: connected");
 * createLogger({ format: "json", write: (l) => lines.push(l), now })("[rap] shutting down");
 * assert.equal(lines[0], "2026-01-02T03:04:05.678Z [rap] 127.0.0.1:9: connected");
 * assert.deepEqual(JSON.parse(lines[1]), {
 *   time: "2026-01-02T03:04:05.678Z", level: "info", door: "rap", message: "shutting down",
 * });
 * ```
 */
export function createLogger(options: LoggerOptions = {}): (line: string) => void {
  const write = options.write ?? ((line: string) => console.error(line));
  const now = options.now ?? (() => new Date());
  if (options.format === "json") {
    return (line) => {
      const { level, door, peer, message } = parseLogLine(line);
      const record: Record<string, string> = { time: now().toISOString(), level };
      if (door !== undefined) record.door = door;
      if (peer !== undefined) record.peer = peer;
      record.message = message;
      write(JSON.stringify(record));
    };
  }
  return (line) => write(`${now().toISOString()} ${line}`);
}
