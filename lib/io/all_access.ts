/**
 * Deno's refusal of "special" files: it opens `/proc/PID/mem`, `/proc/PID/maps`, anything
 * under `/dev` (so `/dev/shm`) and a few more only for programs run with `--allow-all`,
 * whatever `--allow-read` says (`Deno.permissions.query` still answers "granted"). These
 * helpers turn that refusal into a `PermissionDeniedError` whose flag is `--allow-all`.
 *
 * @example
 * ```ts
 * import { allAccessError } from "./all_access.ts";
 * import { PermissionDeniedError } from "./errors.ts";
 * import assert from "node:assert/strict";
 *
 * const error = allAccessError("self://", "/proc/self/mem");
 * assert.ok(error instanceof PermissionDeniedError);
 * assert.equal((error as PermissionDeniedError).flag, "--allow-all");
 * assert.match(error.message, /\(run with --allow-all\)$/);
 * ```
 *
 * @module
 */

import { PermissionDeniedError } from "./errors.ts";

/** A {@linkcode PermissionDeniedError} whose flag is `--allow-all`. */
class AllAccessRequiredError extends PermissionDeniedError {
  /** Always `--allow-all`. */
  override readonly flag: string = "--allow-all";

  /**
   * Make the error for a refused special file.
   *
   * @param uri The URI being opened.
   * @param path The file Deno refused.
   * @param options Standard error options (`cause`).
   */
  constructor(uri: string, path: string, options?: ErrorOptions) {
    super(uri, { name: "read", path }, options);
    this.name = "AllAccessRequiredError";
    this.message = `Cannot open "${uri}": Deno opens ${path} only for programs with all ` +
      `permissions (run with --allow-all)`;
  }
}

/**
 * Whether `error` is Deno refusing a file that needs `--allow-all`.
 *
 * @param error What was thrown.
 * @returns True for a `NotCapable` error asking for "all access".
 *
 * @example
 * ```ts
 * import { isAllAccessRefusal } from "./all_access.ts";
 * import assert from "node:assert/strict";
 *
 * assert.ok(isAllAccessRefusal(new Deno.errors.NotCapable('Requires all access to "/dev/x"')));
 * assert.ok(!isAllAccessRefusal(new Deno.errors.NotCapable('Requires read access to "/x"')));
 * ```
 */
export function isAllAccessRefusal(error: unknown): boolean {
  return error instanceof Deno.errors.NotCapable && /Requires all access/i.test(error.message);
}

/**
 * The error to throw when Deno refuses `path` to anything less than `--allow-all`: a
 * `PermissionDeniedError` whose `flag` is `--allow-all`.
 *
 * @param uri The URI being opened.
 * @param path The file Deno refused.
 * @param cause The original error.
 * @returns The error.
 *
 * @example
 * ```ts
 * import { allAccessError } from "./all_access.ts";
 * import assert from "node:assert/strict";
 *
 * assert.match(allAccessError("shm://x", "/dev/shm/x").message, /Deno opens \/dev\/shm\/x only/);
 * ```
 */
export function allAccessError(uri: string, path: string, cause?: unknown): Error {
  return new AllAccessRequiredError(uri, path, cause === undefined ? undefined : { cause });
}
