/**
 * radare2's `~` output filter (a subset of its "grep"): keep the lines that contain a word,
 * count them, pick lines or columns.
 *
 * @module
 */

function parseRange(spec: string, count: number): [number, number] {
  const index = (s: string, fallback: number): number => {
    if (s === "") return fallback;
    const n = Number.parseInt(s, 10);
    if (!/^-?\d+$/.test(s)) throw new SyntaxError(`Invalid line range "~:${spec}"`);
    return n < 0 ? Math.max(0, count + n) : n;
  };
  const dots = spec.indexOf("..");
  if (dots < 0) {
    const i = index(spec, 0);
    return [i, i + 1];
  }
  return [index(spec.slice(0, dots), 0), index(spec.slice(dots + 2), count)];
}

function matcher(spec: string): (line: string) => boolean {
  let text = spec;
  let negate = false;
  let fold = false;
  let anchorStart = false;
  let anchorEnd = false;
  if (text.startsWith("!")) [negate, text] = [true, text.slice(1)];
  if (text.startsWith("+")) [fold, text] = [true, text.slice(1)];
  if (text.startsWith("^")) [anchorStart, text] = [true, text.slice(1)];
  if (text.endsWith("$") && !text.endsWith("\\$")) [anchorEnd, text] = [true, text.slice(0, -1)];
  const words = text.split(",").filter((w) => w !== "").map((w) => fold ? w.toLowerCase() : w);
  return (line) => {
    const subject = fold ? line.toLowerCase() : line;
    const hit = words.length === 0 ||
      words.some((w) =>
        anchorStart && anchorEnd
          ? subject === w
          : anchorStart
          ? subject.startsWith(w)
          : anchorEnd
          ? subject.endsWith(w)
          : subject.includes(w)
      );
    return hit !== negate;
  };
}

/**
 * Apply one `~` filter to command output.
 *
 * Forms: `word` (lines containing it), `a,b` (either), `!word` (lines without it),
 * `+word` (ignoring case), `^word` / `word$` (anchored), `?` (count the lines), `?word`
 * (count the matching lines), `:N` / `:A..B` (line N / lines A to B-1, negative counts from
 * the end), `[N]` (column N of each line), and a word followed by `:N`, `[N]` or both.
 *
 * @param text The output, lines ending in `\n`.
 * @param spec The filter, without the `~`.
 * @returns The filtered output; each line ends in `\n`.
 * @throws {SyntaxError} If a line range or column is not a number.
 *
 * @example
 * ```ts
 * import { applyFilter } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * const text = "alpha 1\nbeta 2\ngamma 3\n";
 * assert.equal(applyFilter(text, "a 2"), "beta 2\n");
 * assert.equal(applyFilter(text, "!beta"), "alpha 1\ngamma 3\n");
 * assert.equal(applyFilter(text, "?"), "3\n");
 * assert.equal(applyFilter(text, ":0..2"), "alpha 1\nbeta 2\n");
 * assert.equal(applyFilter(text, "[1]"), "1\n2\n3\n");
 * ```
 */
export function applyFilter(text: string, spec: string): string {
  let lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  let rest = spec;
  if (rest.startsWith("?")) {
    const word = rest.slice(1);
    const count = word === "" ? lines.length : lines.filter(matcher(word)).length;
    return `${count}\n`;
  }
  let column: number | undefined;
  const col = /\[(-?\d+)\]$/.exec(rest);
  if (col) {
    column = Number(col[1]);
    rest = rest.slice(0, col.index);
  } else if (/\[[^\]]*\]$/.test(rest)) {
    throw new SyntaxError(`Invalid column "~${spec}"`);
  }
  let range: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon >= 0 && /^-?\d*(\.\.-?\d*)?$/.test(rest.slice(colon + 1))) {
    range = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  if (rest !== "") lines = lines.filter(matcher(rest));
  if (range !== undefined) {
    const [from, to] = parseRange(range, lines.length);
    lines = lines.slice(from, to);
  }
  if (column !== undefined) {
    const c = column;
    lines = lines.map((line) => {
      const cols = line.trim().split(/\s+/);
      return (c < 0 ? cols.at(c) : cols[c]) ?? "";
    });
  }
  return lines.map((l) => l + "\n").join("");
}
