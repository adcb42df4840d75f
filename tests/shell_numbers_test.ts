import assert from "node:assert/strict";
import "../mod.ts"; // the built-in plugins
import { evaluate, parseLiteral, Shell } from "../lib/shell/mod.ts";

/** A shell over `hex://` bytes 00 01 02 ... (n of them). */
async function shellOver(n: number): Promise<Shell> {
  const shell = new Shell();
  const hex = Array.from({ length: n }, (_, i) => (i & 0xff).toString(16).padStart(2, "0"));
  await shell.session.open("hex://" + hex.join(""));
  return shell;
}

Deno.test("?v prints 64-bit two's complement for negative and underflowing values", async () => {
  await using shell = new Shell();
  assert.equal(await shell.run("?v -1"), "0xffffffffffffffff\n");
  assert.equal(await shell.run("?v 0-1"), "0xffffffffffffffff\n");
  assert.equal(await shell.run("?v -0x10"), "0xfffffffffffffff0\n");
  assert.equal(await shell.run("?v 3-5"), "0xfffffffffffffffe\n");
  assert.equal(await shell.run("?v 2*-1"), "0xfffffffffffffffe\n");
  assert.equal(await shell.run("?vi -1"), "-1\n"); // radare2 prints ?vi signed
  assert.equal(await shell.run("?vi 0x7fffffffffffffff+1"), "-9223372036854775808\n");
});

Deno.test("numbers are exact past 2^53 and wrap at 2^64", async () => {
  await using shell = new Shell();
  assert.equal(await shell.run("?v 0xffffffffffffffff"), "0xffffffffffffffff\n");
  assert.equal(await shell.run("?v 18446744073709551615"), "0xffffffffffffffff\n");
  assert.equal(await shell.run("?v 0xffffffffffffffff+1"), "0x0\n");
  assert.equal(await shell.run("?v 0x20000000000001"), "0x20000000000001\n");
  assert.equal(await shell.run("?vi 9007199254740993"), "9007199254740993\n");
  assert.equal(await shell.run("?v 0x8000000000000000*2"), "0x0\n");
  assert.equal(await shell.run("?v 1<<63"), "0x8000000000000000\n");
  assert.equal(await shell.run("?v 1<<64"), "0x0\n"); // radare2: a shift of 64 or more is 0
});

Deno.test("the operators keep radare2's precedence: * / % tighter, the rest left to right", async () => {
  await using shell = new Shell();
  const cases: [string, bigint][] = [
    ["1+2*3", 7n],
    ["(1+2)*3", 9n],
    ["1+2<<3", 24n],
    ["8>>1+1", 5n],
    ["1|2+3", 6n],
    ["5^3", 6n],
    ["5&3", 1n],
    ["7/2", 3n],
    ["10%3", 1n],
    ["1<<<4", 16n],
    ["1>>>1", 0x8000000000000000n],
    ["2*(3+4)", 14n],
    ["1 2", 1n], // text after an expression is ignored
  ];
  for (const [expression, value] of cases) {
    assert.equal(evaluate(expression).value, value, expression);
    assert.equal(await shell.run(`"?v ${expression}"`), `0x${value.toString(16)}\n`, expression);
  }
});

Deno.test("radare2's literals: units, bases, suffixes and characters", () => {
  const cases: [string, bigint][] = [
    ["4K", 4096n],
    ["1.5K", 1536n],
    ["2M", 2n << 20n],
    ["1G", 1n << 30n],
    ["0b101", 5n],
    ["101b", 5n],
    ["0o17", 15n],
    ["017", 15n], // a leading 0 is octal, as in radare2
    ["10h", 16n],
    ["0t12", 5n],
    ["12t", 5n],
    ["1u32", 0xffffffffn],
    ["'A'", 0x41n],
    ["0x1_0000", 0x10000n],
    ["12abc", 12n], // a decimal number ends at its first non-digit
    ["0xff..12", 0xffffffffffffff12n],
    ["1000:0010", 0x10010n],
  ];
  for (const [text, value] of cases) assert.equal(parseLiteral(text).value, value, text);
  assert.equal(parseLiteral("zz").error, "unknown symbol");
  assert.equal(parseLiteral("09").error, "invalid octal number");
});

Deno.test("an invalid expression is an error; ?v prints it and radare2's value", async () => {
  await using shell = await shellOver(16);
  assert.equal(
    await shell.run("?v 0x10000000000000000"),
    'ERROR: Invalid number "0x10000000000000000": number won\'t fit into 64 bits\n' +
      "0xffffffffffffffff\n",
  );
  assert.equal(await shell.run("?v 10/0"), 'ERROR: Division by zero in "10/0"\n0x0\n');
  assert.equal(
    await shell.run("?v ((1+2)*3"),
    `ERROR: Invalid number "((1+2)*3": ')' expected\n0x9\n`,
  );
  assert.equal(
    await shell.run("?v $l"),
    `ERROR: Invalid number "$l": unknown variable "$l"\n0x0\n`,
  );
  // Elsewhere an invalid expression stops the command.
  assert.equal(await shell.run("s 4; s 1/0; s"), 'ERROR: Division by zero in "1/0"\n0x4\n');
  assert.equal(await shell.run("p8 1 @ zz"), 'ERROR: Invalid number "zz"\n');
});

Deno.test("s lands exactly on addresses past 2^53, and s -n / s +n are relative", async () => {
  await using shell = await shellOver(16);
  assert.equal(await shell.run("s 0x20000000000001;s"), "0x20000000000001\n");
  assert.equal(await shell.run("s+ 1;s"), "0x20000000000002\n");
  assert.equal(await shell.run("s $$+0x10;s"), "0x20000000000012\n");
  assert.equal(await shell.run("s 0xffffffffffffffff;s+ 2;s"), "0x1\n"); // forward wraps
  assert.equal(await shell.run("s 0x10;s -8;s;s +4;s"), "0x8\n0xc\n");
  assert.equal(await shell.run("s 4;s- 8;s"), "0x0\n"); // backward stops at 0, as radare2
  assert.equal(await shell.run("s 0x10;s+ -8;s"), "0x18\n"); // radare2 drops the minus
  assert.equal(await shell.run("b 0x20;s 0;s++;s;s++ 2;s;s--;s"), "0x20\n0x30\n0x10\n");
  assert.equal(await shell.run("s 0;s -1;s"), "0x0\n");
});

Deno.test("@ and @@ take exact 64-bit addresses; @ -n and @ +n are relative", async () => {
  await using shell = await shellOver(32);
  assert.equal(await shell.run("s 0x10;p8 2 @ -4;p8 2 @ +2;s"), "0c0d\n1213\n0x10\n");
  assert.equal(await shell.run("p8 1 @ 0x20000000000001"), "ff\n");
  assert.equal(
    await shell.run("?v $$ @@= 1 0x20000000000001 -1"),
    "0x1\n0x20000000000001\n0xffffffffffffffff\n",
  );
  assert.equal(await shell.run("p8 1 @@s:0x1e 0x20 1"), "1e\n1f\n"); // @@s: stops at the end
});

Deno.test("px shows exact offsets past 2^53 and wraps from 0xffffffffffffffff to 0", async () => {
  await using shell = await shellOver(16);
  assert.equal(
    await shell.run("px 16 @ 0x20000000000001"),
    "- offset -         1 2  3 4  5 6  7 8  9 A  B C  D E  F10  123456789ABCDEF0\n" +
      "0x20000000000001  ffff ffff ffff ffff ffff ffff ffff ffff  ................\n",
  );
  assert.equal(
    await shell.run("px 24 @ -8"),
    "- offset -          F8F9 FAFB FCFD FEFF  0 1  2 3  4 5  6 7  89ABCDEF01234567\n" +
      "0xfffffffffffffff8  ffff ffff ffff ffff 0001 0203 0405 0607  ................\n" +
      "0x00000008  0809 0a0b 0c0d 0e0f                      ........\n",
  );
  assert.equal(await shell.run("p8 4 @ -2"), "ffff0001\n");
  assert.equal(await shell.run("s 4;px -4~[0]"), "-\n0x00000000\n"); // the 4 bytes before
});
