/**
 * Shared-token authentication for `serve --token-file`: the token a client presents in its
 * extension probe (`#rap-ext? 1 token=...`, `docs/protocol.md`) is checked in constant
 * time, and never logged.
 *
 * @module
 */

/** Printable ASCII without spaces: what a probe word may carry. */
const TOKEN_CHARS = /^[\x21-\x7e]+$/;

/**
 * Read a token file: its text without surrounding white space (so a trailing newline does
 * not count).
 *
 * @param path The file.
 * @returns The token.
 * @throws {TypeError} If the file cannot be read, is empty, or holds a space, a control
 *   character or a non-ASCII character.
 *
 * @example
 * ```ts
 * import { readTokenFile } from "./auth.ts";
 * import assert from "node:assert/strict";
 *
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "s3cret-token\n");
 * assert.equal(await readTokenFile(path), "s3cret-token");
 * await Deno.remove(path);
 * ```
 */
export async function readTokenFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      throw new Deno.errors.NotCapable(
        `Cannot read the token file "${path}": add --allow-read=${path} to the deno command`,
      );
    }
    throw new TypeError(`Cannot read the token file "${path}": ${(error as Error).message}`, {
      cause: error,
    });
  }
  const token = text.trim();
  if (token === "") throw new TypeError(`The token file "${path}" is empty`);
  if (!TOKEN_CHARS.test(token)) {
    throw new TypeError(
      `The token in "${path}" must be printable ASCII without spaces (it goes in a probe word)`,
    );
  }
  return token;
}

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)),
  );
}

/**
 * Checks presented tokens against the server's, in constant time: both are hashed
 * (SHA-256) and the digests compared without an early exit, so neither the length nor
 * the content of the token shows in the time taken.
 *
 * @example
 * ```ts
 * import { TokenVerifier } from "./auth.ts";
 * import assert from "node:assert/strict";
 *
 * const verifier = new TokenVerifier("correct-horse");
 * assert.equal(await verifier.verify("correct-horse"), true);
 * assert.equal(await verifier.verify("correct-hors"), false);
 * assert.equal(await verifier.verify(undefined), false);
 * assert.equal(String(verifier), "[token]");
 * ```
 */
export class TokenVerifier {
  readonly #expected: Promise<Uint8Array>;

  /**
   * Create it.
   *
   * @param token The server's token (non-empty).
   * @throws {TypeError} If the token is empty.
   */
  constructor(token: string) {
    if (token === "") throw new TypeError("The token is empty");
    this.#expected = digest(token);
  }

  /**
   * Whether `presented` is the token.
   *
   * @param presented The token a client sent (`undefined` when it sent none).
   * @returns True when it matches.
   */
  async verify(presented: string | undefined): Promise<boolean> {
    const expected = await this.#expected;
    const got = await digest(presented ?? "");
    let diff = presented === undefined ? 1 : 0;
    for (let i = 0; i < expected.length; i++) diff |= expected[i] ^ got[i];
    return diff === 0;
  }

  /**
   * A placeholder, so that the token is never shown in a message or a log line.
   *
   * @returns `"[token]"`.
   */
  toString(): string {
    return "[token]";
  }
}
