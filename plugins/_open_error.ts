/**
 * Turn what went wrong while opening a URI into a clear {@linkcode IoError}.
 *
 * @module
 */

import { IoError } from "../lib/io/errors.ts";
import { allAccessError, isAllAccessRefusal } from "../lib/io/all_access.ts";

/**
 * The {@linkcode IoError} for a failure while opening `uri`: Deno's refusal of a file it
 * opens only with `--allow-all` (`/dev`, `/proc/PID/mem`) becomes a permission error naming
 * that flag; an `IoError` or another Deno capability refusal passes through unchanged (the
 * registry turns the latter into a permission error naming the flag); file-system errors
 * get a short reason; any other error's message becomes the reason.
 *
 * @param uri The URI being opened.
 * @param error What was thrown.
 * @param path The file being opened, if any (named in an `--allow-all` refusal).
 * @returns The error to throw.
 *
 * @example
 * ```ts
 * import { openFailure } from "./_open_error.ts";
 * import assert from "node:assert/strict";
 *
 * const err = openFailure("gzip:///nope", new Deno.errors.NotFound("x"));
 * assert.equal(err.message, 'Cannot open "gzip:///nope": no such file');
 * assert.equal(openFailure("a://", new SyntaxError("Bad")).message, 'Cannot open "a://": Bad');
 * ```
 */
export function openFailure(uri: string, error: unknown, path?: string): Error {
  if (path !== undefined && isAllAccessRefusal(error)) return allAccessError(uri, path, error);
  if (error instanceof IoError || error instanceof Deno.errors.NotCapable) return error;
  const reason = error instanceof Deno.errors.NotFound
    ? "no such file"
    : error instanceof Deno.errors.PermissionDenied
    ? "permission denied by the operating system"
    : error instanceof Deno.errors.IsADirectory
    ? "is a directory"
    : error instanceof Error
    ? error.message
    : String(error);
  return new IoError(uri, `Cannot open "${uri}": ${reason}`, { cause: error });
}

/**
 * The {@linkcode IoError} for a failure while connecting to (or listening on) `host` to
 * open `uri`: a refused connection and a port in use are named; an `IoError` or a Deno
 * capability refusal passes through unchanged; any other error's message (or `otherwise`)
 * becomes the reason.
 *
 * @param uri The URI being opened.
 * @param error What was thrown.
 * @param host The `HOST:PORT` connected to or listened on.
 * @param otherwise The reason for any other error (default: its message).
 * @returns The error to throw.
 *
 * @example
 * ```ts
 * import { connectFailure } from "./_open_error.ts";
 * import assert from "node:assert/strict";
 *
 * const err = connectFailure("gdb://h:1", new Deno.errors.ConnectionRefused("x"), "h:1");
 * assert.equal(err.message, 'Cannot open "gdb://h:1": connection refused by h:1');
 * ```
 */
export function connectFailure(
  uri: string,
  error: unknown,
  host: string,
  otherwise?: string,
): Error {
  if (error instanceof IoError || error instanceof Deno.errors.NotCapable) return error;
  const reason = error instanceof Deno.errors.ConnectionRefused
    ? `connection refused by ${host}`
    : error instanceof Deno.errors.AddrInUse
    ? `${host} is already in use`
    : otherwise ?? (error as Error).message;
  return new IoError(uri, `Cannot open "${uri}": ${reason}`, { cause: error });
}
