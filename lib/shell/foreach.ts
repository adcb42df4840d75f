/**
 * radare2's command loops: the repeat prefix (`3px 4`) and the `@@` iterators
 * (`cmd @@= a b c`, `cmd @@s:from to step`), with their counts checked before any work.
 *
 * @module
 */

import type { CommandShell } from "./command.ts";

/**
 * The most times one command runs in a loop (repeat count times `@@` addresses). radare2
 * asks before repeating more than 1024 times at its prompt; a remote peer cannot be asked.
 *
 * @example
 * ```ts
 * import { MAX_ITERATIONS } from "@rap/cli/shell";
 * console.assert(MAX_ITERATIONS === 1048576);
 * ```
 */
export const MAX_ITERATIONS = 1 << 20;

/**
 * The addresses a command runs at.
 *
 * @example
 * ```ts
 * import type { Iterations } from "@rap/cli/shell";
 * const once: Iterations = { count: 1n, addresses: [undefined] };
 * console.assert(once.count === 1n);
 * ```
 */
export interface Iterations {
  /** How many times the command runs (at most; `@@s:` also stops at the end of the file). */
  count: bigint;
  /** Each run's seek (`undefined`: the current one). */
  addresses: Iterable<bigint | undefined>;
}

function* sequence(from: bigint, to: bigint, step: bigint, end: bigint): Generator<bigint> {
  for (let at = from; at <= to && at < end; at += step) yield at;
}

function* repeated<T>(items: Iterable<T>, times: number): Generator<T> {
  for (let i = 0; i < times; i++) yield* items;
}

/**
 * Where a command runs, from its repeat count, `@` and `@@` parts; the count is checked
 * against {@linkcode MAX_ITERATIONS} before anything runs.
 *
 * @param shell The shell (to evaluate the addresses).
 * @param parts The parsed command's `repeat`, `at` and `foreach`.
 * @param parts.repeat The repeat count, if any.
 * @param parts.at The temporary seek expression, if any (`+n`, `-n`: from the seek).
 * @param parts.foreach The `@@` iterator, if any.
 * @returns The count and the addresses.
 * @throws {SyntaxError} For an unknown or malformed iterator, or both `@` and `@@`.
 * @throws {RangeError} When the loop would run more than {@linkcode MAX_ITERATIONS} times.
 *
 * @example
 * ```ts
 * import { iterations, Shell } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * await using shell = new Shell();
 * const loop = await iterations(shell, { foreach: "s:0 0x20 0x10", repeat: 2 });
 * assert.equal(loop.count, 6n);
 * assert.deepEqual([...loop.addresses], [0n, 16n, 32n, 0n, 16n, 32n]);
 * await assert.rejects(iterations(shell, { foreach: "s:0 0xffffffff 1" }), /Too many/);
 * ```
 */
export async function iterations(
  shell: CommandShell,
  parts: { repeat?: number; at?: string; foreach?: string },
): Promise<Iterations> {
  const times = parts.repeat ?? 1;
  let count = 1n;
  let each: Iterable<bigint | undefined> = [undefined];
  if (parts.foreach !== undefined) {
    if (parts.at !== undefined) throw new SyntaxError("Use either @ or @@, not both");
    ({ count, each } = await parseForeach(shell, parts.foreach));
  } else if (parts.at !== undefined) {
    each = [await temporarySeek(shell, parts.at)];
  }
  const total = count * BigInt(times);
  if (total > BigInt(MAX_ITERATIONS)) {
    const what = parts.foreach === undefined ? `${times}` : `"@@${parts.foreach}"`;
    throw new RangeError(
      `Too many iterations in ${what} (${total}; at most ${MAX_ITERATIONS}): use a smaller count`,
    );
  }
  return { count: total, addresses: times === 1 ? each : repeated(each, times) };
}

/** `@ addr`: as in radare2, `@ +n` and `@ -n` are relative to the seek (wrapping). */
async function temporarySeek(shell: CommandShell, text: string): Promise<bigint> {
  const value = await shell.number(text);
  return /^[+-]/.test(text) ? BigInt.asUintN(64, shell.session.seek + value) : value;
}

async function parseForeach(
  shell: CommandShell,
  text: string,
): Promise<{ count: bigint; each: Iterable<bigint> }> {
  if (text.startsWith("=")) {
    const words = text.slice(1).trim().split(/\s+/).filter((w) => w !== "");
    const each: bigint[] = [];
    for (const word of words) each.push(await shell.number(word));
    return { count: BigInt(each.length), each };
  }
  const seq = /^s[: ]\s*(\S+)\s+(\S+)\s+(\S+)\s*$/.exec(text);
  if (seq) {
    const [from, to, step] = [
      await shell.number(seq[1]),
      await shell.number(seq[2]),
      await shell.number(seq[3]),
    ];
    if (step < 1n) throw new RangeError(`The step of "@@${text}" must be at least 1`);
    const count = to < from ? 0n : (to - from) / step + 1n;
    const end = count > 0n ? await shell.session.size() : 0n;
    return { count, each: { [Symbol.iterator]: () => sequence(from, to, step, end) } };
  }
  if (text.startsWith("s")) {
    throw new SyntaxError(`Use the sequence iterator like this: "cmd @@s:from to step"`);
  }
  throw new SyntaxError(
    `Unknown iterator "@@${text}" (use @@= addr addr ... or @@s:from to step)`,
  );
}
