/**
 * The command-line syntax of the shell, as in radare2: `;` separates commands, `@ addr`
 * gives a temporary seek, `@@= a b ...` / `@@s:from to step` run the command at each of
 * several addresses, a number before the command repeats it (`3s+ 1`), `~filter` filters
 * the output lines, `> file` / `>> file` send the output to a file. Text inside double
 * quotes is never split, and a command wholly in double quotes runs as it is (`"w a;b"`).
 *
 * @module
 */

/**
 * One command of a line, split into its parts.
 *
 * @example
 * ```ts
 * import { parseCommand, type ParsedCommand } from "@rap/cli/shell";
 * const parsed: ParsedCommand = parseCommand("px 16 @ 0x10~0x");
 * console.assert(parsed.at === "0x10");
 * ```
 */
export interface ParsedCommand {
  /** The command and its arguments, trimmed. */
  command: string;
  /** The temporary seek expression after `@`, if any. */
  at?: string;
  /** The iterator after `@@` (e.g. `= 0 16 32`, `s:0 0x100 16`), if any. */
  foreach?: string;
  /** The count of a repeat prefix (`3px 4` runs `px 4` three times), if any. */
  repeat?: number;
  /** The `~` filters, in order (without the `~`). */
  filters: string[];
  /** The file after `>` or `>>`, if any. */
  redirect?: { path: string; append: boolean };
}

/**
 * Split a line at the `;` that are outside double quotes. Empty commands are dropped.
 *
 * @param line The line.
 * @returns The commands, trimmed.
 *
 * @example
 * ```ts
 * import { splitCommands } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(splitCommands('s 0x10; px 4;"w a;b"'), ["s 0x10", "px 4", '"w a;b"']);
 * ```
 */
export function splitCommands(line: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (const at of unquoted(line, ";")) {
    out.push(line.slice(start, at));
    start = at + 1;
  }
  out.push(line.slice(start));
  return out.map((s) => s.trim()).filter((s) => s !== "");
}

/**
 * The indexes where `token` (one or more characters) starts outside double quotes; a
 * backslash makes the next character plain.
 */
function* unquoted(text: string, token: string): Generator<number> {
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "\\" && i + 1 < text.length) {
      i++;
    } else if (c === '"') {
      quoted = !quoted;
    } else if (!quoted && text.startsWith(token, i)) {
      yield i;
    }
  }
}

/** The index of the first `token` outside quotes, or -1. */
function findUnquoted(text: string, token: string): number {
  const first = unquoted(text, token).next();
  return first.done ? -1 : first.value;
}

/**
 * Whether a command keeps `@` in its text: the host shell (`!…`), the current file's
 * plugin (`:…`, `=!…`, whose peer is where the seek means something) and `=<` (whose
 * local command takes it). Other `=` commands parse `@` locally, as radare2 does: it seeks
 * its own core for the command and sends the peer the command without it.
 */
function isPassThrough(command: string): boolean {
  return /^(?:[:!]|=!|=<)/.test(command);
}

/**
 * Split one command into the command text, its temporary seek or `@@` iterator, its repeat
 * count, its filters and its redirection. For `!`, `:`, `=!` and `=<` commands `@` is left
 * in the command text (see `isPassThrough`). A command wholly in double quotes is taken
 * literally (`"=0 px 16 @ 0x10"` sends the `@` to the peer).
 *
 * @param text One command (see {@linkcode splitCommands}).
 * @returns Its parts.
 *
 * @example
 * ```ts
 * import { parseCommand } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseCommand("p8 4 @ $$+2 > /tmp/out"), {
 *   command: "p8 4", at: "$$+2", filters: [], redirect: { path: "/tmp/out", append: false },
 * });
 * assert.deepEqual(parseCommand("=0 px 16 @ 0x10~0x0"), {
 *   command: "=0 px 16", at: "0x10", filters: ["0x0"],
 * });
 * assert.deepEqual(parseCommand(":px 16 @ 0x10"), { command: ":px 16 @ 0x10", filters: [] });
 * assert.deepEqual(parseCommand('"?e a@b~c"'), { command: "?e a@b~c", filters: [] });
 * assert.deepEqual(parseCommand("2px 4 @@s:0 32 16~0x"), {
 *   command: "px 4", foreach: "s:0 32 16", repeat: 2, filters: ["0x"],
 * });
 * ```
 */
export function parseCommand(text: string): ParsedCommand {
  let rest = text.trim();
  if (rest.length >= 2 && rest.startsWith('"') && rest.endsWith('"')) {
    return { command: rest.slice(1, -1), filters: [] };
  }
  const result: ParsedCommand = { command: "", filters: [] };
  const gt = findUnquoted(rest, ">");
  if (gt >= 0) {
    const append = rest[gt + 1] === ">";
    const path = rest.slice(gt + (append ? 2 : 1)).trim();
    rest = rest.slice(0, gt).trim();
    if (path !== "") result.redirect = { path, append };
    else rest += append ? " >>" : " >"; // A lone ">" is left to the command.
  }
  const tilde = findUnquoted(rest, "~");
  if (tilde >= 0) {
    // radare2 keeps the spaces of a filter ("~ 1011" matches " 1011").
    result.filters = rest.slice(tilde + 1).split("~");
    rest = rest.slice(0, tilde).trim();
  }
  if (!isPassThrough(rest)) {
    const each = findUnquoted(rest, "@@");
    if (each >= 0) {
      result.foreach = rest.slice(each + 2).trim();
      rest = rest.slice(0, each).trim();
    }
    const at = findUnquoted(rest, "@");
    if (at >= 0) {
      const addr = rest.slice(at + 1).trim();
      rest = rest.slice(0, at).trim();
      if (addr !== "") result.at = addr;
    }
    const repeat = /^(\d+)\s*/.exec(rest);
    if (repeat && Number(repeat[1]) >= 1) {
      result.repeat = Number(repeat[1]);
      rest = rest.slice(repeat[0].length);
    }
  }
  result.command = rest;
  return result;
}
