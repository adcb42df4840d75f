/**
 * The built-in (non-remote) commands of the shell.
 *
 * @module
 */

import type { CommandSpec } from "../command.ts";
import { DEBUG_COMMANDS } from "./debug.ts";
import { MISC_COMMANDS } from "./misc.ts";
import { OPEN_COMMANDS } from "./open.ts";
import { PRINT_COMMANDS } from "./print.ts";
import { SEEK_COMMANDS } from "./seek.ts";
import { WRITE_COMMANDS } from "./write.ts";

export * from "./debug.ts";
export * from "./misc.ts";
export * from "./open.ts";
export * from "./print.ts";
export * from "./seek.ts";
export * from "./write.ts";

/**
 * Every built-in command except the `=` family and help.
 *
 * @example
 * ```ts
 * import { BUILTIN_COMMANDS } from "@rap/cli/shell";
 * console.assert(BUILTIN_COMMANDS.length > 10);
 * ```
 */
export const BUILTIN_COMMANDS: readonly CommandSpec[] = [
  ...SEEK_COMMANDS,
  ...PRINT_COMMANDS,
  ...WRITE_COMMANDS,
  ...OPEN_COMMANDS,
  ...MISC_COMMANDS,
  ...DEBUG_COMMANDS,
];
