/**
 * What the debugging tests share: the outside tools (gdbserver, gdb, gcc, nm, r2) found on
 * PATH, a small C program built with gcc (non-PIE, so its addresses are its ELF's), the
 * file offset of an address from the ELF program headers, and a check that no process of
 * a path is left.
 *
 * @module
 */

/**
 * The absolute path of a program on PATH, or `undefined`.
 *
 * @param name The program.
 * @returns Its path.
 *
 * @example
 * ```ts
 * import { findOnPath } from "./_debug_tools.ts";
 * console.assert(await findOnPath("no-such-program-here") === undefined);
 * ```
 */
export async function findOnPath(name: string): Promise<string | undefined> {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir) continue;
    try {
      const path = `${dir}/${name}`;
      if ((await Deno.stat(path)).isFile) return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The tools, `undefined` when missing. */
export const TOOLS = {
  gdbserver: await findOnPath("gdbserver"),
  gdb: await findOnPath("gdb"),
  gcc: await findOnPath("gcc"),
  nm: await findOnPath("nm"),
  r2: await findOnPath("r2"),
};

/** Whether a program can be built and debugged (gdbserver, gcc and nm are there). */
export const CAN_DEBUG: boolean = TOOLS.gdbserver !== undefined && TOOLS.gcc !== undefined &&
  TOOLS.nm !== undefined;

const SOURCE = `#include <stdio.h>
#include <unistd.h>
int add(int a, int b) { return a + b; }
int main(int argc, char **argv) {
  volatile int x = add(argc, 2);
  if (argc > 1) sleep(60);
  printf("x=%d\\n", x);
  return 7;
}
`;

/**
 * A built test program and its symbols.
 *
 * @example
 * ```ts
 * import type { TestProgram } from "./_debug_tools.ts";
 * const at = (p: TestProgram) => p.symbols.get("main");
 * console.assert(typeof at === "function");
 * ```
 */
export interface TestProgram {
  /** The directory it was built in (remove it when done). */
  dir: string;
  /** The program's absolute path. */
  path: string;
  /** `nm`'s addresses of its symbols. */
  symbols: Map<string, number>;
  /** Its ELF bytes. */
  elf: Uint8Array;
  /** The ELF entry point. */
  entry: number;
}

/**
 * Build the test program (`main` calls `add`, sleeps a minute when given an argument,
 * then returns 7) with `gcc -O0 -no-pie`, under a name unique to this process.
 *
 * @param name A name for the program (kept unique with the pid).
 * @returns The program.
 *
 * @example
 * ```ts ignore
 * import { buildProgram } from "./_debug_tools.ts";
 * const program = await buildProgram("demo");
 * console.assert(program.symbols.has("main"));
 * ```
 */
export async function buildProgram(name: string): Promise<TestProgram> {
  const dir = await Deno.makeTempDir({ prefix: "rap_dbg_" });
  const path = `${dir}/${name}${Deno.pid}`.slice(0, dir.length + 15);
  await Deno.writeTextFile(`${dir}/prog.c`, SOURCE);
  const cc = await new Deno.Command(TOOLS.gcc!, {
    args: ["-O0", "-g", "-no-pie", "-fno-pie", "-o", path, `${dir}/prog.c`],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!cc.success) throw new Error(`gcc failed: ${new TextDecoder().decode(cc.stderr)}`);
  const nm = await new Deno.Command(TOOLS.nm!, { args: [path], stdout: "piped" }).output();
  const symbols = new Map<string, number>();
  for (const line of new TextDecoder().decode(nm.stdout).split("\n")) {
    const m = /^([0-9a-f]+) [Tt] (\S+)$/.exec(line);
    if (m) symbols.set(m[2], parseInt(m[1], 16));
  }
  const elf = await Deno.readFile(path);
  const entry = Number(new DataView(elf.buffer).getBigUint64(24, true));
  return { dir, path, symbols, elf, entry };
}

/**
 * The file offset of a virtual address, from the ELF's `PT_LOAD` program headers.
 *
 * @param elf The ELF bytes (64-bit, little-endian).
 * @param address The address.
 * @returns The offset.
 * @throws {RangeError} When no segment holds it.
 *
 * @example
 * ```ts ignore
 * import { buildProgram, fileOffset } from "./_debug_tools.ts";
 * const program = await buildProgram("demo");
 * console.assert(fileOffset(program.elf, program.entry) > 0);
 * ```
 */
export function fileOffset(elf: Uint8Array, address: number): number {
  const view = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  const phoff = Number(view.getBigUint64(32, true));
  const size = view.getUint16(54, true);
  const count = view.getUint16(56, true);
  for (let i = 0; i < count; i++) {
    const at = phoff + i * size;
    if (view.getUint32(at, true) !== 1) continue; // PT_LOAD
    const offset = Number(view.getBigUint64(at + 8, true));
    const vaddr = Number(view.getBigUint64(at + 16, true));
    const filesz = Number(view.getBigUint64(at + 32, true));
    if (address >= vaddr && address < vaddr + filesz) return offset + address - vaddr;
  }
  throw new RangeError(`No segment holds 0x${address.toString(16)}`);
}

/**
 * The processes running `path` (by `/proc/PID/cmdline`) or a gdbserver debugging it.
 *
 * @param path The program's path.
 * @returns Their pids.
 *
 * @example
 * ```ts
 * import { processesOf } from "./_debug_tools.ts";
 * console.assert((await processesOf("/no/such/program")).length === 0);
 * ```
 */
export async function processesOf(path: string): Promise<number[]> {
  const found: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const argv = (await Deno.readTextFile(`/proc/${entry.name}/cmdline`)).split("\0");
      const status = await Deno.readTextFile(`/proc/${entry.name}/status`);
      if (/^State:\s+Z/m.test(status)) continue; // a zombie holds nothing
      if (argv.includes(path)) found.push(Number(entry.name));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/**
 * Wait until no process of `path` is left (gdbserver and its inferior exit as their
 * connection closes, a moment after the client's close returns), at most `ms`.
 *
 * @param path The program's path.
 * @param ms The longest wait.
 * @returns The processes still there after the wait (none when all went).
 *
 * @example
 * ```ts
 * import { leftProcesses } from "./_debug_tools.ts";
 * console.assert((await leftProcesses("/no/such/program", 100)).length === 0);
 * ```
 */
export async function leftProcesses(path: string, ms = 10_000): Promise<number[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = await processesOf(path);
    if (left.length === 0 || Date.now() > deadline) return left;
    // Polling /proc: the processes are not ours to wait for (gdbserver's child).
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
