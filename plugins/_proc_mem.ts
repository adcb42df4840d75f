/**
 * Process memory through Linux's `/proc/PID/mem` and `/proc/PID/maps`: the shared core of
 * the `procpid://PID` and `self://` plugins.
 *
 * The byte space is the process's virtual address space: offset = virtual address, size
 * unbounded. `/proc/PID/maps` tells mapped from unmapped; unmapped bytes (and mapped pages
 * the kernel refuses to read, like `[vvar]`) read as 0xff, as radare2 fills them, so a read
 * always returns the full length. Mapped bytes are read with a seek and a read of
 * `/proc/PID/mem`; writes go the same way (another process's memory needs ptrace rights:
 * the same user and a permissive `kernel.yama.ptrace_scope`, or `CAP_SYS_PTRACE`).
 *
 * Deno grants `/proc/PID/mem` and `/proc/PID/maps` only to programs run with
 * `--allow-all`, whatever `--allow-read` says; the open turns that refusal into a
 * `PermissionDeniedError` whose flag is `--allow-all`.
 *
 * @example
 * ```ts
 * import { parseMaps } from "./_proc_mem.ts";
 * import assert from "node:assert/strict";
 *
 * const [map] = parseMaps("00400000-00401000 r-xp 00000000 08:01 42 /bin/true\n");
 * assert.deepEqual([map.start, map.end, map.perms, map.name], [0x400000, 0x401000, "r-xp", "/bin/true"]);
 * ```
 *
 * @module
 */

import { IoError } from "../lib/io/errors.ts";
import { DescriptorBase } from "../lib/io/plugin_base.ts";
import { allAccessError, isAllAccessRefusal } from "../lib/io/all_access.ts";

/** The page size used to skip past unreadable pages. */
const PAGE = 4096;
/** Deno's seek takes a signed 64-bit offset: addresses from here on are never read. */
const MAX_ADDRESS = 2 ** 63;

/**
 * One line of `/proc/PID/maps`.
 *
 * @example
 * ```ts
 * import type { MemoryMap } from "./_proc_mem.ts";
 * const map: MemoryMap = { start: 0, end: 4096, perms: "r--p", offset: 0, name: "" };
 * console.assert(map.end - map.start === 4096);
 * ```
 */
export interface MemoryMap {
  /** First address. */
  start: number;
  /** Address after the last byte. */
  end: number;
  /** Permissions, e.g. `r-xp`. */
  perms: string;
  /** Offset in the mapped file. */
  offset: number;
  /** The mapped file or a label like `[stack]`; empty for anonymous memory. */
  name: string;
}

/**
 * Parse the text of `/proc/PID/maps`. Mappings at or above 2^63 (the kernel's
 * `[vsyscall]`) are left out, since Deno cannot seek there.
 *
 * @param text The file's text.
 * @returns The mappings, in address order.
 *
 * @example
 * ```ts
 * import { parseMaps } from "./_proc_mem.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(parseMaps("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]\n").length, 0);
 * ```
 */
export function parseMaps(text: string): MemoryMap[] {
  const maps: MemoryMap[] = [];
  for (const line of text.split("\n")) {
    const m = /^([0-9a-f]+)-([0-9a-f]+)\s+(\S+)\s+([0-9a-f]+)\s+\S+\s+\d+\s*(.*)$/i.exec(line);
    if (!m) continue;
    const start = Number(BigInt(`0x${m[1]}`));
    const end = Number(BigInt(`0x${m[2]}`));
    if (start >= MAX_ADDRESS || end <= start) continue;
    maps.push({
      start,
      end: Math.min(end, MAX_ADDRESS),
      perms: m[3],
      offset: Number(BigInt(`0x${m[4]}`)),
      name: m[5].trim(),
    });
  }
  return maps.sort((a, b) => a.start - b.start);
}

/**
 * Format mappings like radare2's `dm`: `0xSTART - 0xEND PERMS NAME`, one per line.
 *
 * @param maps The mappings.
 * @returns The text.
 *
 * @example
 * ```ts
 * import { formatMaps } from "./_proc_mem.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(
 *   formatMaps([{ start: 0x1000, end: 0x2000, perms: "rw-p", offset: 0, name: "[heap]" }]),
 *   "0x0000000000001000 - 0x0000000000002000 rw-p [heap]\n",
 * );
 * ```
 */
export function formatMaps(maps: readonly MemoryMap[]): string {
  const hex = (n: number) => `0x${n.toString(16).padStart(16, "0")}`;
  return maps.map((m) => `${hex(m.start)} - ${hex(m.end)} ${m.perms} ${m.name}`.trimEnd() + "\n")
    .join("");
}

/**
 * The permissions opening a process's memory needs: read (and, for writing, write) of
 * `DIR/mem`, and read of `DIR/maps`.
 *
 * @param dir The process's `/proc` directory: `/proc/PID` or `/proc/self`.
 * @param options `write` when `mem` is opened for writing too.
 * @returns The permission descriptors.
 *
 * @example
 * ```ts
 * import { procPermissions } from "./_proc_mem.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(procPermissions("/proc/7", {}), [
 *   { name: "read", path: "/proc/7/mem" },
 *   { name: "read", path: "/proc/7/maps" },
 * ]);
 * ```
 */
export function procPermissions(
  dir: string,
  options: { write?: boolean },
): Deno.PermissionDescriptor[] {
  return [
    { name: "read", path: `${dir}/mem` },
    ...(options.write ? [{ name: "write", path: `${dir}/mem` } as const] : []),
    { name: "read", path: `${dir}/maps` },
  ];
}

function describeOpenError(uri: string, path: string, pid: string, error: unknown): Error {
  if (isAllAccessRefusal(error)) return allAccessError(uri, path, error);
  if (error instanceof Deno.errors.NotCapable) return error;
  if (error instanceof Deno.errors.NotFound) {
    return new IoError(uri, `Cannot open "${uri}": no such process ${pid}`, { cause: error });
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return new IoError(
      uri,
      `Cannot open "${uri}": the operating system denies access to ${path} (reading another ` +
        "process's memory needs ptrace rights: the same user and kernel.yama.ptrace_scope " +
        "allowing it, or CAP_SYS_PTRACE)",
      { cause: error },
    );
  }
  return new IoError(uri, `Cannot open "${uri}": ${(error as Error).message}`, { cause: error });
}

/**
 * The memory of a process as a descriptor: offsets are virtual addresses.
 *
 * @example Read this process's first mapping
 * ```ts
 * import { openProcMem } from "./_proc_mem.ts";
 * import assert from "node:assert/strict";
 *
 * await using desc = await openProcMem("self://", "/proc/self", "self", {}, "self");
 * const [first] = desc.maps;
 * assert.equal((await desc.read(first.start, 4)).length, 4);
 * assert.equal(await desc.size(), Infinity);
 * ```
 */
export class ProcMemDescriptor extends DescriptorBase {
  /** The process id. */
  readonly pid: number;
  readonly #dir: string;
  readonly #mem: Deno.FsFile;
  #maps: MemoryMap[];
  #stale = false;

  /**
   * Wrap an open `mem` file.
   *
   * @param uri The URI.
   * @param plugin The plugin name (`procpid` or `self`).
   * @param pid The process id.
   * @param dir The process's `/proc` directory (`/proc/PID` or `/proc/self`).
   * @param mem The open `mem` file.
   * @param maps The mappings read at open.
   * @param writable Whether `mem` was opened for writing.
   */
  constructor(
    uri: string,
    plugin: string,
    pid: number,
    dir: string,
    mem: Deno.FsFile,
    maps: MemoryMap[],
    writable: boolean,
  ) {
    super(uri, plugin, writable);
    this.pid = pid;
    this.#dir = dir;
    this.#mem = mem;
    this.#maps = maps;
  }

  /** The mappings as last read from `/proc/PID/maps`. */
  get maps(): readonly MemoryMap[] {
    return this.#maps;
  }

  async #reloadMaps(): Promise<MemoryMap[]> {
    try {
      this.#maps = parseMaps(await Deno.readTextFile(`${this.#dir}/maps`));
      this.#stale = false;
      return this.#maps;
    } catch (error) {
      throw new IoError(
        this.uri,
        `Cannot read the memory maps of process ${this.pid}: ${
          error instanceof Deno.errors.NotFound
            ? "the process has exited"
            : (error as Error).message
        }`,
        { cause: error },
      );
    }
  }

  /** Whether the cached maps cover `[start, end)` without a gap. */
  #covered(start: number, end: number): boolean {
    let at = start;
    for (const map of this.#maps) {
      if (map.end <= at) continue;
      if (map.start > at) return false;
      at = map.end;
      if (at >= end) return true;
    }
    return at >= end;
  }

  /** Read mapped memory into `out`; pages the kernel refuses stay 0xff. */
  async #readMapped(address: number, out: Uint8Array): Promise<void> {
    let pos = 0;
    while (pos < out.length) {
      let n: number | null = null;
      try {
        await this.#mem.seek(address + pos, Deno.SeekMode.Start);
        n = await this.#mem.read(out.subarray(pos));
      } catch {
        n = null;
      }
      if (n === null || n <= 0) {
        // Unreadable page (or the mapping went away): skip to the next page.
        this.#stale = true;
        const next = Math.min(
          out.length,
          (Math.floor((address + pos) / PAGE) + 1) * PAGE - address,
        );
        out.fill(0xff, pos, next);
        pos = next;
      } else {
        pos += n;
      }
    }
  }

  /**
   * The size: unbounded.
   *
   * @returns `Infinity`.
   */
  size(): Promise<number> {
    return Promise.resolve(Infinity);
  }

  /**
   * Read `length` bytes at virtual address `offset`; unmapped or unreadable bytes are 0xff.
   *
   * @param offset The virtual address.
   * @param length How many bytes.
   * @returns Exactly `length` bytes.
   */
  read(offset: number, length: number): Promise<Uint8Array> {
    return this.serial(async () => {
      const out = new Uint8Array(Math.max(0, length)).fill(0xff);
      const end = Math.min(offset + out.length, MAX_ADDRESS);
      if (out.length === 0 || offset >= end) return out;
      const maps = this.#stale || !this.#covered(offset, end)
        ? await this.#reloadMaps()
        : this.#maps;
      for (const map of maps) {
        if (map.end <= offset || map.start >= end) continue;
        const a = Math.max(map.start, offset);
        const b = Math.min(map.end, end);
        await this.#readMapped(a, out.subarray(a - offset, b - offset));
      }
      return out;
    });
  }

  /**
   * Write `data` at virtual address `offset` through `/proc/PID/mem`.
   *
   * @param offset The virtual address.
   * @param data The bytes.
   * @returns How many bytes were written (fewer when an unmapped page stops the write).
   * @throws {IoError} When opened read-only, or when nothing could be written.
   */
  override write(offset: number, data: Uint8Array): Promise<number> {
    return this.serial(async () => {
      this.checkWritable();
      let done = 0;
      while (done < data.length) {
        try {
          await this.#mem.seek(offset + done, Deno.SeekMode.Start);
          const n = await this.#mem.write(data.subarray(done));
          if (n <= 0) break;
          done += n;
        } catch (error) {
          if (done > 0) break;
          throw this.failure(error, "write to", offset + done);
        }
      }
      return done;
    });
  }

  /**
   * Plugin commands: `pid` (the process id), `maps` or `dm` (the memory maps, as
   * radare2's `dm`), `help`.
   *
   * @param command The command line.
   * @returns Its output.
   * @throws {IoError} On an unknown command.
   */
  system(command: string): Promise<string> {
    const name = command.trim().split(/\s+/)[0];
    switch (name) {
      case "pid":
        return Promise.resolve(`${this.pid}\n`);
      case "maps":
      case "dm":
        return this.serial(async () => formatMaps(await this.#reloadMaps()));
      case "":
      case "?":
      case "help":
        return Promise.resolve(
          `${this.plugin} commands:\n  pid    the process id\n  maps   the memory maps (also dm)\n` +
            "  help   this help\n",
        );
      default:
        return Promise.reject(
          new IoError(this.uri, `Unknown ${this.plugin} command "${name}" (try "help")`),
        );
    }
  }

  /** Close `/proc/PID/mem` (once the operations under way are done). */
  protected override release(): void {
    this.#mem.close();
  }
}

/**
 * Open the memory of a process.
 *
 * @param uri The URI being opened.
 * @param dir The process's `/proc` directory: `/proc/PID` or `/proc/self`.
 * @param pid The process id as written in the URI (`self` for this process).
 * @param options `write` opens `mem` for writing too.
 * @param plugin The plugin name the descriptor shows.
 * @returns The descriptor.
 * @throws {PermissionDeniedError} With the flag `--allow-all` when Deno runs without `--allow-all`.
 * @throws {IoError} When the process does not exist or the OS denies access.
 *
 * @example
 * ```ts
 * import { openProcMem } from "./_proc_mem.ts";
 * import assert from "node:assert/strict";
 *
 * await assert.rejects(
 *   openProcMem("procpid://999999999", "/proc/999999999", "999999999", {}, "procpid"),
 *   /no such process/,
 * );
 * ```
 */
export async function openProcMem(
  uri: string,
  dir: string,
  pid: string,
  options: { write?: boolean },
  plugin: string,
): Promise<ProcMemDescriptor> {
  const write = options.write ?? false;
  let maps: MemoryMap[];
  try {
    maps = parseMaps(await Deno.readTextFile(`${dir}/maps`));
  } catch (error) {
    throw describeOpenError(uri, `${dir}/maps`, pid, error);
  }
  let mem: Deno.FsFile;
  try {
    mem = await Deno.open(`${dir}/mem`, { read: true, write });
  } catch (error) {
    throw describeOpenError(uri, `${dir}/mem`, pid, error);
  }
  const number = pid === "self" ? Deno.pid : Number(pid);
  return new ProcMemDescriptor(uri, plugin, number, dir, mem, maps, write);
}
