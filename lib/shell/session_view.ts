/**
 * Views of a session's open files that other sessions can use without owning them: how a
 * server started from the shell (`=:port`, `=&:port`) serves the shell's own files.
 *
 * @module
 */

import { IoError } from "../io/errors.ts";
import { IoSession } from "../io/session.ts";
import type { IoDescriptor, IoPlugin } from "../io/types.ts";

/**
 * A descriptor that forwards to another one and does not close it.
 *
 * @example
 * ```ts
 * import { BorrowedDescriptor } from "@rap/cli/shell";
 * import { openUri } from "@rap/cli/io";
 * import assert from "node:assert/strict";
 *
 * await using inner = await openUri("hex://4142");
 * const view = new BorrowedDescriptor(inner);
 * await view.close();
 * assert.deepEqual([...await inner.read(0, 2)], [0x41, 0x42]);
 * ```
 */
export class BorrowedDescriptor implements IoDescriptor {
  /** The inner descriptor's URI. */
  readonly uri: string;
  /** The inner descriptor's plugin. */
  readonly plugin: string;
  /** Whether the inner descriptor is writable. */
  readonly writable: boolean;
  /** The inner descriptor's plugin commands, when it has them. */
  readonly system?: (command: string) => Promise<string>;
  readonly #inner: IoDescriptor;

  /**
   * Create it.
   *
   * @param inner The descriptor to forward to.
   */
  constructor(inner: IoDescriptor) {
    this.#inner = inner;
    this.uri = inner.uri;
    this.plugin = inner.plugin;
    this.writable = inner.writable;
    if (inner.system) this.system = (command) => inner.system!(command);
  }

  /**

   * The inner size.

   *

   * @returns The inner size.

   */
  size(): Promise<number> {
    return this.#inner.size();
  }

  /**
   * Read from the inner descriptor.
   *
   * @param offset Where.
   * @param length How many bytes.
   * @returns The inner descriptor's bytes.
   */
  read(offset: number, length: number): Promise<Uint8Array> {
    return this.#inner.read(offset, length);
  }

  /**
   * Write to the inner descriptor.
   *
   * @param offset Where.
   * @param data The bytes.
   * @returns Bytes written.
   */
  write(offset: number, data: Uint8Array): Promise<number> {
    return this.#inner.write(offset, data);
  }

  /** Does nothing: the owner closes the inner descriptor. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Same as {@linkcode BorrowedDescriptor.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * A plugin for `shell://FD`: a view of the file `FD` of `session`.
 *
 * @param session The session whose files are shown.
 * @returns The plugin.
 *
 * @example
 * ```ts
 * import { sessionViewPlugin } from "@rap/cli/shell";
 * import { IoRegistry, IoSession } from "@rap/cli/io";
 * import assert from "node:assert/strict";
 *
 * await using session = new IoSession();
 * const fd = await session.open("hex://cafe");
 * const registry = new IoRegistry([sessionViewPlugin(session)]);
 * await using view = await registry.open(`shell://${fd}`);
 * assert.equal(await view.size(), 2);
 * ```
 */
export function sessionViewPlugin(session: IoSession): IoPlugin {
  return {
    name: "shell",
    description: "a file open in the shell that started the server",
    schemes: ["shell"],
    uriForms: ["shell://FD"],
    capabilities: { read: true, write: true, resize: false, system: true },
    permissions: () => [],
    open(uri) {
      const fd = Number(/^shell:\/\/(\d+)$/i.exec(uri)?.[1] ?? NaN);
      const inner = Number.isInteger(fd) ? session.get(fd) : undefined;
      if (!inner) {
        return Promise.reject(new IoError(uri, `Cannot open "${uri}": no such file in the shell`));
      }
      return Promise.resolve(new BorrowedDescriptor(inner));
    },
  };
}

/**
 * A session some of whose files are pinned: they stay open whatever its users run
 * (`o-*` closes the others, `o-N` of a pinned file is refused). `serve FILE --http-port`
 * gives its HTTP clients one such session, so that no client can take the served file
 * away from the others. {@linkcode PinnedSession.release} closes everything.
 *
 * @example
 * ```ts
 * import { PinnedSession } from "@rap/cli/shell";
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
