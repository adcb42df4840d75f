/**
 * radare2's `~` output filter ("grep", its `libr/cons/grep.c`), ported for the forms that
 * work on plain text: words (`~a,b`, `~&a,b`, `~!a`, `~+a`, `~^a`, `~a$`), counts (`~?`,
 * `~a?`, `~?.`), line ranges (`~:N`, `~:A..B`) and columns (`~[N]`, `~[a,b]`, `~[a-b]`,
 * `~[a-]`, negative from the end). Every `~` part of a command makes one grep, as in
 * radare2: a line must match each part (`~0x~10`), and the ranges and columns apply to the
 * lines that match, with radare2's quirks kept (a negative range counts from the end of
 * the whole output; columns are split at any of ` |,;=\t` and joined with one space).
 *
 * @module
 */

import { parseLiteral } from "./literal.ts";

/** The first `~` part radare2 refuses (`R_CONS_GREP_COUNT`) and its column limit. */
const MAX_PARTS = 9;
const MAX_COLUMNS = 64;
/** The end of an open column range (`[2-]`). */
const OPEN = MAX_COLUMNS;

interface Word {
  text: string;
  group: number;
  amp: boolean;
  begin: boolean;
  neg: boolean;
  end: boolean;
  icase: boolean;
}

/** A parsed grep expression (radare2's `RConsGrep`, the parts used here). */
interface Grep {
  words: Word[];
  /** The words joined with `,` (radare2's `grep->str`), `undefined` for none. */
  str: string | undefined;
  counter: boolean;
  charCounter: boolean;
  /** 2: no range, 1: a range, -1: a range given before the columns. */
  rangeLine: number;
  first: number;
  last: number;
  /** Column ranges, `[begin, end]` (end `OPEN`: to the last column). */
  columns: [number, number][];
}

const UNSUPPORTED: [RegExp, string][] = [
  [/^:[)}]/, "code formatting"],
  [/^\.\./, "the pager and the hud"],
  [/^\{/, "JSON"],
  [/^\$/, "sorting"],
  [/^</, "zoom and XML"],
];

/** An int as C's `(int)` cast of radare2's `r_num_get` gives it. */
const intOf = (text: string) => Number(BigInt.asIntN(32, parseLiteral(text).value));

/** `[a,b-c,d-]`: false when radare2 would drop the whole column selection. */
function parseColumns(grep: Grep, text: string): boolean {
  const number = (s: string): number | undefined => {
    if (s === "" || s === "-" || s === "+") return undefined;
    const n = intOf(s);
    return n >= -MAX_COLUMNS && n < MAX_COLUMNS ? n : undefined;
  };
  for (const raw of text.split(",")) {
    const item = raw.trim();
    if (item === "") continue;
    const sep = item.indexOf("-", /^[+-]/.test(item) ? 1 : 0);
    const begin = number(sep < 0 ? item : item.slice(0, sep).trim());
    const endText = sep < 0 ? undefined : item.slice(sep + 1).trim();
    const end = endText === undefined ? begin : endText === "" ? OPEN : number(endText);
    if (begin === undefined || end === undefined || grep.columns.length >= MAX_COLUMNS) {
      return false;
    }
    grep.columns.push([begin, end]);
  }
  return true;
}

/** `:A..B` (radare2's `grep_parse_range`): nested ranges narrow the previous one. */
function parseRange(grep: Grep, token: string): void {
  const sep = token.indexOf("..");
  const head = sep < 0 ? token : token.slice(0, sep);
  const first = head === "" ? 0 : intOf(head);
  const last = sep < 0 ? first + 1 : token.length > sep + 2 ? intOf(token.slice(sep + 2)) : 0;
  const begin = grep.rangeLine !== 2 ? grep.first : 0;
  const end = grep.rangeLine !== 2 ? grep.last : 0;
  grep.first = first < 0 ? end + first : begin + first;
  grep.last = last <= 0 ? end + last : begin + last;
  if (end && (end < 0) === (grep.last < 0)) grep.last = Math.min(end, grep.last);
  grep.rangeLine = 1;
}

/** The first `:` not escaped with a backslash; escaped ones lose the backslash. */
function unescapedColon(text: string): { text: string; at: number } {
  let at = text.indexOf(":");
  while (at > 0 && text[at - 1] === "\\") {
    text = text.slice(0, at - 1) + text.slice(at);
    at = text.indexOf(":", at);
  }
  return { text, at };
}

/** Parse a grep expression (radare2's `r_cons_grep_expression`). */
function parseGrep(expression: string): Grep {
  const grep: Grep = {
    words: [],
    str: undefined,
    counter: false,
    charCounter: false,
    rangeLine: 2,
    first: 0,
    last: 0,
    columns: [],
  };
  let text = expression;
  if (text.endsWith("?")) [grep.counter, text] = [true, text.slice(0, -1)];
  const parts = text.split("~");
  if (parts.length > MAX_PARTS) {
    throw new RangeError(`Too many ~ filters in "~${expression}" (at most ${MAX_PARTS})`);
  }
  let rangeStage = -1;
  let columnStage = -1;
  parts.forEach((part, group) => {
    const flags = { amp: false, begin: false, neg: false, end: false, icase: false };
    let p = 0;
    for (; p < part.length; p++) {
      const rest = part.slice(p);
      const refused = UNSUPPORTED.find(([re]) => re.test(rest));
      if (refused) {
        throw new SyntaxError(`The ~ filter "~${part}" (${refused[1]}) is not supported`);
      }
      const c = part[p];
      if (c === "&") flags.amp = true;
      else if (c === "+") flags.icase = true;
      else if (c === "^") flags.begin = true;
      else if (c === "!") flags.neg = true;
      else if (c === "?") {
        grep.counter = true;
        if (part[p + 1] === ".") [grep.charCounter, p] = [true, p + 1];
        else if (part[p + 1] === "?" || rest === "?ea") {
          throw new SyntaxError(`The ~ filter "~${part}" is not supported`);
        }
      } else if (c !== ".") break; // a lone "." is skipped, as in radare2
    }
    let word = part.slice(p);
    let cut = -1;
    const open = word.indexOf("[");
    const close = word.indexOf("]");
    if (open >= 0 && close > open) {
      columnStage = group;
      cut = open;
      if (!parseColumns(grep, word.slice(open + 1, close))) grep.columns = [];
    }
    const colon = unescapedColon(word);
    word = colon.text;
    const next = word[colon.at + 1] ?? "";
    if (colon.at >= 0 && next !== ":" && /[0-9.-]/.test(next)) {
      rangeStage = group;
      cut = cut < 0 ? colon.at : Math.min(cut, colon.at);
      parseRange(grep, word.slice(colon.at + 1));
    }
    if (cut >= 0) word = word.slice(0, cut);
    if (word.length > 1 && word.endsWith("$") && word.at(-2) !== "\\") {
      [flags.end, word] = [true, word.slice(0, -1)];
    }
    if (word === "") return;
    grep.str = grep.str === undefined ? word : `${grep.str},${word}`;
    for (const w of word.split(",")) if (w !== "") grep.words.push({ text: w, group, ...flags });
  });
  if (rangeStage >= 0 && rangeStage < columnStage) grep.rangeLine = -1;
  if (grep.str === undefined) {
    grep.str = "";
    grep.words.push({
      text: "",
      group: 0,
      amp: false,
      begin: false,
      neg: false,
      end: false,
      icase: false,
    });
  }
  return grep;
}

/** Whether `line` matches the words: each group must hit (radare2's `r_cons_grep_line`). */
function matches(grep: Grep, line: string): boolean {
  let group = -1;
  let groupHit = false;
  for (const w of grep.words) {
    if (group !== w.group) {
      if (group >= 0 && !groupHit) return false;
      group = w.group;
      groupHit = w.amp || w.neg;
    }
    const subject = w.icase ? line.toLowerCase() : line;
    const needle = w.icase ? w.text.toLowerCase() : w.text;
    const at = subject.indexOf(needle);
    let hit = at >= 0 && (!w.begin || at === 0) && (!w.end || subject.endsWith(needle));
    if (w.neg) hit = !hit;
    groupHit = w.amp || w.neg ? groupHit && hit : groupHit || hit;
  }
  return groupHit;
}

/** The selected columns of a line, joined with one space. */
function selectColumns(grep: Grep, line: string): string {
  const cols = line.split(/[ |,;=\t]+/).filter((c) => c !== "");
  const n = cols.length;
  return cols.filter((_, i) =>
    grep.columns.some(([begin, end]) => {
      const from = begin < 0 ? n + begin : begin;
      const to = end === OPEN ? n - 1 : end < 0 ? n + end : end;
      return from <= i && i <= to;
    })
  ).join(" ");
}

/**
 * Apply a `~` filter to command output, as radare2's grep does.
 *
 * Forms: `word` (lines containing it), `a,b` (either), `&a,b` (both), `!word` (lines
 * without it), `+word` (ignoring case), `^word` / `word$` (anchored), `?` (count the
 * lines) and `?.` (count the characters), `word?` (count the matching lines), `:N` /
 * `:A..B` (line N / lines A to B-1 of the matching lines; negative counts from the end
 * of the output), `[N]` (column N), `[a,b]`, `[a-b]`, `[a-]` and `[-N]` (several columns,
 * a range, from column a, from the end), and `~` again for a part every line must also
 * match. Like radare2, it only keeps lines that end in a newline, drops empty lines and
 * stops at a NUL; unsupported forms (`~{}`, `~$`, `~..`, `~<`, `~:)`) are refused.
 *
 * @param text The output.
 * @param spec The filter, without the first `~` (later parts keep theirs).
 * @returns The filtered output; each line ends in `\n`.
 * @throws {SyntaxError} For a form radare2 has and this filter does not.
 *
 * @example
 * ```ts
 * import { applyFilter } from "@rap/cli/shell";
 * import assert from "node:assert/strict";
 *
 * const text = "alpha 1 x\nbeta 2 y\ngamma 3 z\n";
 * assert.equal(applyFilter(text, "a 2"), "beta 2 y\n");
 * assert.equal(applyFilter(text, "!beta"), "alpha 1 x\ngamma 3 z\n");
 * assert.equal(applyFilter(text, "?"), "3\n");
 * assert.equal(applyFilter(text, ":0..2"), "alpha 1 x\nbeta 2 y\n");
 * assert.equal(applyFilter(text, "[0,2]"), "alpha x\nbeta y\ngamma z\n");
 * assert.equal(applyFilter(text, "[1-]~a"), "1 x\n2 y\n3 z\n");
 * ```
 */
export function applyFilter(text: string, spec: string): string {
  if (spec === "") return text;
  const grep = parseGrep(spec);
  const nul = text.indexOf("\0");
  const lines = (nul < 0 ? text : text.slice(0, nul)).split("\n");
  lines.pop(); // the text after the last newline is never shown
  if (grep.rangeLine !== 2) {
    if (grep.first < 0) grep.first += lines.length;
    if (grep.last <= 0) grep.last += lines.length;
  }
  const rangeOnly = grep.rangeLine !== 2 && grep.str === "";
  const countRange = grep.charCounter && grep.rangeLine !== 2;
  let out = "";
  let hits = 0; // radare2's cons->lines
  let selected = 0;
  let chars = 0;
  let show = false;
  for (const line of lines) {
    if (line === "" && !rangeOnly) continue;
    let shown = "";
    if (matches(grep, line)) {
      const inRange = grep.rangeLine === 2 || (grep.first <= hits && hits <= grep.last);
      shown = inRange && grep.columns.length > 0 ? selectColumns(grep, line) : line;
    }
    if (grep.rangeLine !== 2) {
      if (grep.first === hits) show = true;
      if (grep.last === hits) show = false;
    } else {
      show = true;
    }
    if ((shown === "" && rangeOnly && grep.columns.length === 0) || shown !== "") {
      if (grep.charCounter && show) chars += shown.length + 1;
      if (show && !grep.counter) out += shown + "\n";
      if (show) selected++;
      hits++;
    } else if (shown === "" && rangeOnly && grep.rangeLine < 0) {
      hits++;
    }
    if (grep.counter && !countRange) show = false;
  }
  return grep.counter ? `${grep.charCounter ? chars : selected}\n` : out;
}
