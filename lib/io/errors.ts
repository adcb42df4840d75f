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
 * import { IoError, openUri } from "@rap/cli/io";
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
 * No plugin claims the URI's scheme.
 *
 * @example
 * ```ts
 * import { openUri, UnknownSchemeError } from "@rap/cli/io";
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
   */
  constructor(uri: string, scheme: string) {
    super(uri, `Cannot open "${uri}": no plugin for scheme "${scheme}"`);
    this.name = "UnknownSchemeError";
    this.scheme = scheme;
  }
}

/**
 * A Deno permission that opening the URI needs is not granted. The message names the flag
 * to add, e.g. `--allow-read=/etc/shadow`.
 *
 * @example
 * ```ts
 * import { PermissionDeniedError } from "@rap/cli/io";
 * import assert from "node:assert/strict";
 *
 * const err = new PermissionDeniedError("/etc/shadow", { name: "read", path: "/etc/shadow" });
 * assert.equal(err.flag, "--allow-read=/etc/shadow");
 * assert.match(err.message, /read access is not granted/);
 * ```
 */
export class PermissionDeniedError extends IoError {
  /** The permission that is missing. */
  readonly permission: Deno.PermissionDescriptor;
  /** The command-line flag that grants it. */
  readonly flag: string;

  /**
   * Create it.
   *
   * @param uri The URI being opened.
   * @param permission The missing permission.
   * @param options Standard error options (`cause`).
   */
  constructor(uri: string, permission: Deno.PermissionDescriptor, options?: ErrorOptions) {
    const flag = permissionFlag(permission);
    super(
      uri,
      `Cannot open "${uri}": ${permissionLabel(permission)} is not granted (run with ${flag})`,
      options,
    );
    this.name = "PermissionDeniedError";
    this.permission = permission;
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
 * import { permissionFlag } from "@rap/cli/io";
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
