/**
 * `shell://FD`: views of the shell's open files that other sessions can use without owning
 * them, which is how a server started from the shell (`=:port`, `=&:port`) serves them.
 *
 * @module
 */

import { BorrowedDescriptor } from "../io/borrowed_descriptor.ts";
import { IoError } from "../io/errors.ts";
import type { IoSession } from "../io/session.ts";
import type { IoPlugin } from "../io/types.ts";

/**
 * A plugin for `shell://FD`: a view of the file `FD` of `session`.
 *
 * @param session The session whose files are shown.
 * @returns The plugin.
 *
 * @example
 * ```ts
 * import { sessionViewPlugin } from "@rap/cli/shell";
 * import { IoRegistry, IoSession } from "@rap/cli";
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
