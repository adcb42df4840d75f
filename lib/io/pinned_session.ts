/**
 * A session whose pinned files stay open whatever its users run.
 *
 * @module
 */

import { IoError } from "./errors.ts";
import { IoSession } from "./session.ts";

/**
 * A session some of whose files are pinned: they stay open whatever its users run
 * (`o-*` closes the others, `o-N` of a pinned file is refused). `serve FILE --http-port`
 * gives its HTTP clients one such session, so that no client can take the served file
 * away from the others. {@linkcode PinnedSession.release} closes everything.
 *
 * @example
 * ```ts
 * import { PinnedSession } from "@rap/cli";
 * import assert from "node:assert/strict";
 *
 * const session = new PinnedSession();
 * const served = await session.open("hex://cafe");
 * session.pin(served);
 * await session.open("hex://00");
 * await session.closeAll();
 * assert.deepEqual(session.files().map((f) => f.fd), [served]);
 * await assert.rejects(session.close(served), /stays open/);
 * await session.release();
 * assert.equal(session.files().length, 0);
 * ```
 */
export class PinnedSession extends IoSession {
  readonly #pinned = new Set<number>();

  /**
   * Keep `fd` open until {@linkcode PinnedSession.release}.
   *
   * @param fd An open fd.
   * @throws {RangeError} If no such fd is open.
   */
  pin(fd: number): void {
    if (this.get(fd) === undefined) throw new RangeError(`No open file with fd ${fd}`);
    this.#pinned.add(fd);
  }

  /**
   * Close a file that is not pinned.
   *
   * @param fd The fd.
   * @returns Whether a file was closed.
   * @throws {IoError} If the file is pinned.
   */
  override async close(fd: number): Promise<boolean> {
    const desc = this.get(fd);
    if (desc !== undefined && this.#pinned.has(fd)) {
      throw new IoError(
        desc.uri,
        `File ${fd} ("${desc.uri}") stays open: the server serves it to every client`,
      );
    }
    return await super.close(fd);
  }

  /** Close every file that is not pinned. */
  override async closeAll(): Promise<void> {
    for (const { fd } of this.files()) {
      if (!this.#pinned.has(fd)) await super.close(fd);
    }
  }

  /** Unpin every file and close them all. */
  async release(): Promise<void> {
    this.#pinned.clear();
    await super.closeAll();
  }
}
