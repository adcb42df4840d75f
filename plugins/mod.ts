/**
 * The static table of built-in IO plugins, keyed by URI scheme. Each entry imports its
 * module lazily, so only the plugins a program uses are loaded, and `deno compile` and JSR
 * see every module statically.
 *
 * @example
 * ```ts
 * import { builtinPlugins } from "@rap/cli/plugins";
 * import assert from "node:assert/strict";
 *
 * const malloc = (await builtinPlugins.malloc()).default;
 * assert.equal(malloc.name, "malloc");
 * ```
 *
 * @module
 */

import type { PluginModule } from "../lib/io/types.ts";

/**
 * Built-in plugins by scheme.
 *
 * @example
 * ```ts
 * import { builtinPlugins } from "@rap/cli/plugins";
 * console.assert("file" in builtinPlugins);
 * ```
 */
export const builtinPlugins: Readonly<Record<string, () => Promise<PluginModule>>> = Object
  .freeze({
    file: () => import("./file.ts"),
    malloc: () => import("./malloc.ts"),
    hex: () => import("./malloc.ts"),
    null: () => import("./null.ts"),
    sparse: () => import("./sparse.ts"),
    cyclic: () => import("./cyclic.ts"),
    slurp: () => import("./slurp.ts"),
    hexfile: () => import("./slurp.ts"),
    stdin: () => import("./slurp.ts"),
    mmap: () => import("./mmap.ts"),
    shm: () => import("./shm.ts"),
    procpid: () => import("./procpid.ts"),
    self: () => import("./self.ts"),
    bfdbg: () => import("./bfdbg.ts"),
    rap: () => import("./rap.ts"),
    raps: () => import("./rap.ts"),
    http: () => import("./http.ts"),
    https: () => import("./http.ts"),
    r2web: () => import("./r2web.ts"),
    tcp: () => import("./tcp.ts"),
    "tcp-slurp": () => import("./tcp.ts"),
    gdb: () => import("./gdb.ts"),
    dbg: () => import("./dbg.ts"),
    pid: () => import("./dbg.ts"),
    attach: () => import("./dbg.ts"),
    pidof: () => import("./dbg.ts"),
    gzip: () => import("./gzip.ts"),
    zip: () => import("./zip.ts"),
    jar: () => import("./zip.ts"),
    ipa: () => import("./zip.ts"),
    apk: () => import("./zip.ts"),
    zip0: () => import("./zip.ts"),
    zipall: () => import("./zip.ts"),
    apkall: () => import("./zip.ts"),
    ipaall: () => import("./zip.ts"),
    jarall: () => import("./zip.ts"),
    ar: () => import("./ar.ts"),
    lib: () => import("./ar.ts"),
    arall: () => import("./ar.ts"),
    liball: () => import("./ar.ts"),
    ihex: () => import("./ihex.ts"),
    srec: () => import("./srec.ts"),
  });
