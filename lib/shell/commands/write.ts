/**
 * Writing: `w` (string), `wz` (string and NUL), `wx` (hex pairs), `wtf` (dump to a file).
 *
 * @module
 */

import { IoError } from "../../io/errors.ts";
import { openInScope } from "../../io/open_file.ts";
import type { CommandEnv, CommandSpec } from "../command.ts";
import { firstWord, lengthArg, MAX_LENGTH, readPieces } from "./_args.ts";

const encoder = new TextEncoder();

/**
 * Decode radare2's string escapes: `\n \t \r \0 \e \\ \" \xNN`.
 *
 * @param text The text.
 * @returns Its bytes.
 * @throws {SyntaxError} On a malformed `\x` escape.
 *
 * @example
 * ```ts
 * import { unescapeString } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual([...unescapeString("a\\x00\\n")], [0x61, 0, 0x0a]);
 * ```
 */
export function unescapeString(text: string): Uint8Array {
  const out: number[] = [];
  const simple: Record<string, number> = { n: 10, t: 9, r: 13, "0": 0, e: 27, "\\": 92, '"': 34 };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "\\" && i + 1 < text.length) {
      const n = text[i + 1];
      if (n === "x") {
        const hex = text.slice(i + 2, i + 4);
        if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new SyntaxError(`Invalid escape "\\x${hex}"`);
        out.push(parseInt(hex, 16));
        i += 3;
        continue;
      }
      if (n in simple) {
        out.push(simple[n]);
        i++;
        continue;
      }
    }
    out.push(...encoder.encode(c));
  }
  return new Uint8Array(out);
}

/**
 * Parse hex pairs (white space ignored).
 *
 * @param text The hex text, e.g. `41 42 4344`.
 * @returns The bytes.
 * @throws {SyntaxError} If it is not an even number of hex digits.
 *
 * @example
 * ```ts
 * import { parseHexPairs } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual([...parseHexPairs("41 4243")], [0x41, 0x42, 0x43]);
 * assert.throws(() => parseHexPairs("414"), SyntaxError);
 * ```
 */
export function parseHexPairs(text: string): Uint8Array {
  const hex = text.replace(/\s+/g, "");
  if (!/^([0-9a-fA-F]{2})*$/.test(hex)) throw new SyntaxError(`Invalid hexpair string "${text}"`);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Refuse write data longer than a print command may read, before decoding it. */
function dataArg(env: CommandEnv): string {
  if (env.args.length > MAX_LENGTH) {
    throw new RangeError(
      `Data of ${env.args.length} characters is too long for "${env.name}": ` +
        `at most ${MAX_LENGTH} (32M) per command`,
    );
  }
  return env.args;
}

async function writeHere(env: CommandEnv, data: Uint8Array): Promise<void> {
  if (data.length === 0) return;
  const { session } = env.shell;
  try {
    await session.writeAt(session.seek, data);
  } catch (error) {
    if (error instanceof IoError && session.current && !session.current.writable) {
      throw new IoError(error.uri, `${error.message} (reopen it writable with oo+)`);
    }
    throw error;
  }
}

/**
 * The write commands.
 *
 * @example
 * ```ts
 * import { WRITE_COMMANDS } from "@rap/cli/shell";
 * console.assert(WRITE_COMMANDS.some((c) => c.name === "wx"));
 * ```
 */
export const WRITE_COMMANDS: readonly CommandSpec[] = [
  {
    name: "w",
    usage: "text",
    help: "write a string (escapes: \\n \\t \\xNN ...)",
    run: (env) => writeHere(env, unescapeString(dataArg(env))),
  },
  {
    name: "wz",
    usage: "text",
    help: "write a string and a NUL",
    run: (env) => {
      const bytes = unescapeString(dataArg(env));
      const z = new Uint8Array(bytes.length + 1);
      z.set(bytes);
      return writeHere(env, z);
    },
  },
  {
    name: "wx",
    usage: "hex",
    help: "write hex pairs",
    run: (env) => writeHere(env, parseHexPairs(dataArg(env))),
  },
  {
    name: "wtf",
    usage: "file [n]",
    help: "dump n bytes (default: the block size) from the seek into a local file",
    capability: "fs",
    async run(env) {
      const { shell, args, out } = env;
      const [path, size] = firstWord(args);
      if (path === "") throw new SyntaxError("Usage: wtf file [n]");
      const n = await lengthArg(shell, size);
      // Block by block: the dump is never held whole.
      using file = await openInScope(path, { write: true, create: true, truncate: true });
      await readPieces(env, { start: shell.session.seek, length: n }, async (bytes) => {
        for (let done = 0; done < bytes.length;) done += await file.write(bytes.subarray(done));
      }, 1 << 16);
      out.message(
        `INFO: Dumped ${n} bytes from 0x${
          shell.session.seek.toString(16).padStart(8, "0")
        } into ${path}`,
      );
    },
  },
];
