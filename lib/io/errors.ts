/**
 * Errors of the IO layer.
 *
 * @module
 */

/**
 * A URI could not be opened, read or written. The message quotes the URI.
 *
 * @example
 * ```ts
 * import { IoError, openUri } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * await assert.rejects(openUri("malloc://0"), IoError);
 * ```
 */
export class IoError extends Error {
  /** The URI concerned. */
  readonly uri: string;

  /**
   * Create it.
   *
   * @param uri The URI concerned.
   * @param message What went wrong (sentence case).
   * @param options Standard error options (`cause`).
   */
  constructor(uri: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "IoError";
    this.uri = uri;
  }
}

/**
 * A request names no open file of the session (an fd that was never opened, or closed).
 *
 * @example
 * ```ts
 * import { BadFdError, IoSession } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * await using session = new IoSession();
 * await assert.rejects(session.read(9, 0n, 1), BadFdError);
 * ```
 */
export class BadFdError extends IoError {
  /** The fd asked for. */
  readonly fd: number;

  /**
   * Create it.
   *
   * @param fd The fd asked for (`-1`: the current file, when none is open).
   */
  constructor(fd: number) {
    super("", fd === -1 ? "No file is open" : `No open file with fd ${fd}`);
    this.name = "BadFdError";
    this.fd = fd;
  }
}

/**
 * A write to a file opened read-only, or to a session that is read-only (`rap serve` without `-w`).
 *
 * @example
 * ```ts
 * import { IoSession, ReadOnlyError } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * await using session = new IoSession({ readOnly: true });
 * const fd = await session.open("malloc://4", { write: true });
 * await assert.rejects(session.write(fd, 0n, new Uint8Array(1)), ReadOnlyError);
 * ```
 */
export class ReadOnlyError extends IoError {
  /**
   * Create it.
   *
   * @param uri The file, or `""` for the session itself.
   * @param message Why (`opened read-only`, `The server is read-only (rap serve -w makes it writable)`).
   */
  constructor(uri: string, message: string) {
    super(uri, message);
    this.name = "ReadOnlyError";
  }
}

/**
 * An offset past what the IO layer can address (2^53 - 1: JavaScript's safe integers).
 *
 * @example
 * ```ts
 * import { OffsetError } from "@rap/cli";
 * console.assert(new OffsetError("malloc://1", 1n << 60n).message.includes("0x1000000000000000"));
 * ```
 */
export class OffsetError extends IoError {
  /** The offset. */
  readonly offset: bigint;

  /**
   * Create it.
   *
   * @param uri The file.
   * @param offset The offset.
   */
  constructor(uri: string, offset: bigint) {
    super(uri, `Offset 0x${offset.toString(16)} is too large`);
    this.name = "OffsetError";
    this.offset = offset;
  }
}

/**
 * An open or a write refused because the RAM the files hold would pass a memory limit
 * (`--max-session-memory`, `--max-memory`); the message names the flag.
 *
 * @example
 * ```ts
 * import { IoSession, MemoryLimitError } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * await using session = new IoSession({ maxMemory: 100 });
 * await assert.rejects(session.open("malloc://200"), MemoryLimitError);
 * ```
 */
export class MemoryLimitError extends IoError {
  /**
   * Create it.
   *
   * @param uri The file.
   * @param message What does not fit, and the flag to raise.
   */
  constructor(uri: string, message: string) {
    super(uri, message);
    this.name = "MemoryLimitError";
  }
}

/**
 * An open refused because the session has as many files open as it may
 * (`--max-open-files`).
 *
 * @example
 * ```ts
 * import { IoSession, TooManyFilesError } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * await using session = new IoSession({ maxOpenFiles: 1 });
 * await session.open("malloc://1");
 * await assert.rejects(session.open("malloc://1"), TooManyFilesError);
 * ```
 */
export class TooManyFilesError extends IoError {
  /**
   * Create it.
   *
   * @param uri The URI being opened.
   * @param max The session's limit.
   */
  constructor(uri: string, max: number) {
    super(uri, `Cannot open "${uri}": too many open files (${max}) (--max-open-files)`);
    this.name = "TooManyFilesError";
  }
}

/**
 * No plugin claims the URI's scheme.
 *
 * @example
 * ```ts
 * import { openUri, UnknownSchemeError } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * await assert.rejects(openUri("foo://x"), UnknownSchemeError);
 * ```
 */
export class UnknownSchemeError extends IoError {
  /** The scheme nobody claims. */
  readonly scheme: string;

  /**
   * Create it.
   *
   * @param uri The URI.
   * @param scheme Its scheme.
   * @param hint What to do about it, if known.
   */
  constructor(uri: string, scheme: string, hint?: string) {
    super(
      uri,
      `Cannot open "${uri}": no plugin for scheme "${scheme}"${hint ? ` (${hint})` : ""}`,
    );
    this.name = "UnknownSchemeError";
    this.scheme = scheme;
  }
}

/**
 * Deno permissions that opening the URI needs are not granted. The message names the flags
 * to add, e.g. `--allow-read=/etc/shadow`, or every missing one when there are several
 * (`--allow-run=gdbserver --allow-net=127.0.0.1`).
 *
 * @example
 * ```ts
 * import { PermissionDeniedError } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * const err = new PermissionDeniedError("/etc/shadow", { name: "read", path: "/etc/shadow" });
 * assert.equal(err.flag, "--allow-read=/etc/shadow");
 * assert.match(err.message, /read access is not granted/);
 * const two = new PermissionDeniedError("dbg:///bin/ls", [
 *   { name: "run", command: "gdbserver" },
 *   { name: "net", host: "127.0.0.1" },
 * ]);
 * assert.match(two.message, /run and net access are not granted \(run with --allow-run=gdbserver --allow-net=127\.0\.0\.1\)/);
 * ```
 */
export class PermissionDeniedError extends IoError {
  /** The (first) permission that is missing. */
  readonly permission: Deno.PermissionDescriptor;
  /** Every permission that is missing. */
  readonly permissions: readonly Deno.PermissionDescriptor[];
  /** The command-line flags that grant them (space-separated when several). */
  readonly flag: string;

  /**
   * Create it.
   *
   * @param uri The URI being opened.
   * @param permission The missing permission, or every missing one.
   * @param options Standard error options (`cause`).
   */
  constructor(
    uri: string,
    permission: Deno.PermissionDescriptor | readonly Deno.PermissionDescriptor[],
    options?: ErrorOptions,
  ) {
    const all = Array.isArray(permission)
      ? [...permission]
      : [permission as Deno.PermissionDescriptor];
    const names = [...new Set(all.map((p) => p.name))];
    const flag = names.map((name) => {
      const values = all.filter((p) => p.name === name).map(permissionValue);
      if (values.some((v) => v === undefined)) return `--allow-${name}`;
      return `--allow-${name}=${[...new Set(values)].join(",")}`;
    }).join(" ");
    const label = names.length === 1
      ? `${permissionLabel(all[0])} is`
      : `${names.slice(0, -1).join(", ")} and ${names.at(-1)} access are`;
    super(uri, `Cannot open "${uri}": ${label} not granted (run with ${flag})`, options);
    this.name = "PermissionDeniedError";
    this.permission = all[0];
    this.permissions = all;
    this.flag = flag;
  }
}

function permissionValue(p: Deno.PermissionDescriptor): string | undefined {
  switch (p.name) {
    case "read":
    case "write":
    case "ffi":
      return p.path?.toString();
    case "net":
    case "import":
      return p.host;
    case "run":
      return p.command?.toString();
    case "env":
      return p.variable;
    case "sys":
      return p.kind;
  }
}

/**
 * The command-line flag that grants a permission, e.g. `--allow-net=127.0.0.1:9999`.
 *
 * @param permission The permission.
 * @returns The flag.
 *
 * @example
 * ```ts
 * import { permissionFlag } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * assert.equal(permissionFlag({ name: "net", host: "127.0.0.1:9999" }), "--allow-net=127.0.0.1:9999");
 * assert.equal(permissionFlag({ name: "run" }), "--allow-run");
 * ```
 */
export function permissionFlag(permission: Deno.PermissionDescriptor): string {
  const value = permissionValue(permission);
  return `--allow-${permission.name}${value === undefined ? "" : `=${value}`}`;
}

function permissionLabel(permission: Deno.PermissionDescriptor): string {
  return `${permission.name} access`;
}
