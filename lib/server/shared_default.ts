/**
 * The default URI of a server (`serve FILE`): opened once, and every session that reads,
 * seeks or sends a CMD before any OPEN gets a view of that one descriptor, so all clients
 * see the same bytes, as with radare2.
 *
 * @module
 */

import { BorrowedDescriptor } from "../io/borrowed_descriptor.ts";
import type { IoRegistry } from "../io/registry.ts";
import type { IoSession } from "../io/session.ts";
import type { IoDescriptor } from "../io/types.ts";

/** A descriptor that can be synced to disk (`FileDescriptor` and the files built on it). */
export type Syncable = IoDescriptor & { sync?: () => Promise<void> };

/**
 * The default URI's descriptor as one session sees it: shared by every session, never
 * closed by them (the server closes it when it stops).
 */
class SharedView extends BorrowedDescriptor {
  readonly #inner: Syncable;
  constructor(inner: IoDescriptor) {
    super(inner);
    this.#inner = inner;
  }
  sync(): Promise<void> {
    return this.#inner.sync?.() ?? Promise.resolve();
  }
}

/**
 * The default file of a server: given open, or opened on first use (a failure is retried
 * by the next session).
 */
export class SharedDefault {
  readonly #uri: string | undefined;
  readonly #open: () => Promise<IoDescriptor>;
  readonly #owned: boolean;
  #shared: Promise<IoDescriptor> | undefined;

  /**
   * Create it.
   *
   * @param uri The default URI, if any.
   * @param registry Opens it (on first use, when not given open).
   * @param write Open it writable.
   * @param given An already open descriptor: used as it is, closed by its owner
   *   (`owned` false) or by {@linkcode SharedDefault.close} (`owned` true).
   * @param owned Whether the server closes `given`.
   */
  constructor(
    uri: string | undefined,
    registry: IoRegistry,
    write: boolean,
    given: IoDescriptor | undefined,
    owned: boolean,
  ) {
    this.#uri = uri;
    this.#open = () => registry.open(uri!, { write });
    this.#owned = owned;
    if (given !== undefined) this.#shared = Promise.resolve(given);
  }

  /**
   * Give a session without a file a view of the default descriptor.
   *
   * @param session The session.
   * @throws {Error} When the default URI cannot be opened (the reason in the message).
   */
  async ensure(session: IoSession): Promise<void> {
    if (session.current !== undefined) return;
    if (this.#uri === undefined && this.#shared === undefined) return;
    if (this.#shared === undefined) {
      const opening = this.#open();
      this.#shared = opening;
      opening.catch(() => {
        if (this.#shared === opening) this.#shared = undefined;
      });
    }
    const shared = await this.#shared!;
    if (session.current === undefined) session.add(new SharedView(shared));
  }

  /**
   * Close the descriptor if the server owns it.
   *
   * @param log Where a failure to close is reported.
   */
  async close(log: (line: string) => void): Promise<void> {
    const shared = this.#owned ? await this.#shared?.catch(() => undefined) : undefined;
    await shared?.close().catch((error) =>
      log(`[rap] error closing ${shared.uri}: ${(error as Error).message}`)
    );
  }
}
