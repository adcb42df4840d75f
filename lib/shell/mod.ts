/**
 * The r2-style shell: a command interpreter over an IO session (`px`, `p8`, `pr`, `wx`,
 * `s`, `b`, `o`, `i` ... with `;`, `@ addr`, `~filter`, `> file` and radare2's 64-bit
 * expressions), radare2's `=` remote-session commands, the command policy for remote
 * peers, the RAP command handler and the `=h` HTTP endpoint (on the server of
 * `@rap/cli/http`).
 *
 * @example
 * ```ts
 * import "@rap/cli"; // installs the built-in plugins
 * import { Shell } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * await using shell = new Shell();
 * await shell.run("o malloc://64; w hello @ 0x10");
 * assert.equal(
 *   await shell.run("px 16 @ 0x10"),
 *   "- offset -  1011 1213 1415 1617 1819 1A1B 1C1D 1E1F  0123456789ABCDEF\n" +
 *     "0x00000010  6865 6c6c 6f00 0000 0000 0000 0000 0000  hello...........\n",
 * );
 * ```
 *
 * @module
 */

export * from "./command.ts";
export * from "./commands/mod.ts";
export * from "./expr.ts";
export * from "./filter.ts";
export * from "./foreach.ts";
export * from "./handler.ts";
export * from "./hexdump.ts";
export * from "./http.ts";
export * from "./line_editor.ts";
export * from "./line_reader.ts";
export * from "./literal.ts";
export * from "./mutex.ts";
export * from "./options.ts";
export * from "./output.ts";
export * from "./pace.ts";
export * from "./parse.ts";
export * from "./peer.ts";
export * from "./policy.ts";
export * from "./remote/dial.ts";
export * from "./remote/dispatch.ts";
export * from "./remote/hosts.ts";
export * from "./remote/servers.ts";
export * from "./remote/target.ts";
export * from "./reverse_prompt.ts";
export * from "./session_view.ts";
export * from "./sessions.ts";
export * from "./shell.ts";
export * from "./table.ts";
