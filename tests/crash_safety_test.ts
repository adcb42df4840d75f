/**
 * No lost writes: formats saved by rewriting (gzip, Intel HEX) go through a temporary file
 * and a rename, so a process killed in the middle of a save leaves the old file whole; and
 * writes a RAP server acknowledged are in the file even if the server is killed right after.
 */

import { RapClient } from "../mod.ts";
import assert from "node:assert/strict";
import { gzipFile, ihexText } from "./_fixtures.ts";
import { Random } from "./_random.ts";
import { startServe } from "./_serve_process.ts";
import { decodeCompressed } from "../plugins/_gzip_format.ts";
import { parseIntelHex } from "../plugins/_intel_hex.ts";
import { buildSparseImage } from "../plugins/_sparse_image.ts";
import { generation, generationOf } from "./_crash_saver.ts";

const SAVER = new URL("./_crash_saver.ts", import.meta.url).pathname;
const ROUNDS = 16;

/** Read `saving N` / `saved N` lines from the saver; resolve once `wanted` matches. */
function lineWatcher(stream: ReadableStream<Uint8Array>) {
  let waiting: { test: (line: string) => boolean; resolve: (line: string) => void } | undefined;
  const lines: string[] = [];
  const done = (async () => {
    let partial = "";
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (partial + text).split("\n");
      partial = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        if (waiting?.test(line)) {
          waiting.resolve(line);
          waiting = undefined;
        }
      }
    }
    waiting?.resolve("(exited)");
  })();
  return {
    lines,
    done,
    next(test: (line: string) => boolean): Promise<string> {
      const found = lines.find(test);
      if (found) return Promise.resolve(found);
      return new Promise((resolve) => waiting = { test, resolve });
    },
  };
}

/** File system events in `dir`: `next()` resolves at the first create/modify after the call. */
function watchWrites(dir: string) {
  const watcher = Deno.watchFs(dir, { recursive: false });
  let armed: (() => void) | undefined;
  const loop = (async () => {
    for await (const event of watcher) {
      if (armed && (event.kind === "create" || event.kind === "modify")) {
        armed();
        armed = undefined;
      }
    }
  })();
  return {
    next: () => new Promise<void>((resolve) => armed = resolve),
    [Symbol.asyncDispose]: async () => {
      watcher.close();
      await loop;
      armed?.();
    },
  };
}

/** The last `saved N MS` the saver printed: N (-1 if none) and MS. */
function lastSaved(lines: string[]): { gen: number; ms: number } {
  const saved = lines.filter((l) => l.startsWith("saved ")).map((l) => l.split(" ").map(Number));
  const last = saved.at(-1);
  return last ? { gen: last[1], ms: last[2] } : { gen: -1, ms: 0 };
}

/**
 * Kill the saver at random moments, mostly just after it announced a save, and check each
 * time that the file decodes to one whole generation: the last saved one or the one being
 * saved, never a mix or a truncated file.
 */
async function killDuringSaves(
  kind: "gzip" | "ihex",
  path: string,
  size: number,
  decode: (bytes: Uint8Array) => Uint8Array,
): Promise<{ kills: number; midSave: number }> {
  const random = new Random(kind === "gzip" ? 11 : 12);
  let current = 0; // the generation the file holds
  let kills = 0;
  let midSave = 0;
  let saveMs = 0; // how long a save took, measured by the saver
  await using fileEvents = watchWrites(path.slice(0, path.lastIndexOf("/")));
  for (let round = 0; round < ROUNDS; round++) {
    const first = current + 1;
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        `--allow-read=${path},${path}.rap-save,${SAVER}`,
        `--allow-write=${path},${path}.rap-save`,
        SAVER,
        `${kind}://${path}`,
        String(first),
        String(size),
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    const out = lineWatcher(child.stdout);
    // Let it complete 1 to 2 saves (to learn how long one takes), then kill it during the
    // next one: two rounds in three as soon as the file system reports the first write of
    // the save (the moment a non-atomic save would have truncated the file), otherwise at
    // a random moment (while it encodes, writes the temporary file, or renames).
    const target = first + 1 + random.int(2);
    const onWrite = random.int(3) < 2;
    await out.next((l) => l === `saving ${target}` || l === "(exited)");
    saveMs = Math.max(saveMs, lastSaved(out.lines).ms);
    let how: string;
    if (onWrite) {
      await fileEvents.next();
      how = "at the first file write of";
    } else {
      const delay = random.int(saveMs + 2);
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      how = `${delay} ms into it`;
    }
    const inFlight = out.lines.at(-1) === `saving ${target}`;
    child.kill("SIGKILL");
    const status = await child.status;
    await out.done;
    assert.equal(status.signal, "SIGKILL", await stderr);
    await stderr;
    kills++;
    const saved = lastSaved(out.lines).gen;
    if (inFlight && saved < target) midSave++;

    const bytes = await Deno.readFile(path);
    let gen: number;
    try {
      gen = generationOf(decode(bytes));
    } catch (error) {
      throw new Error(
        `${kind}: the file is not whole after a kill ${how} a save (round ${round}): ` +
          (error as Error).message,
      );
    }
    const expected = [saved < 0 ? current : saved, (saved < 0 ? current : saved) + 1];
    assert.ok(
      expected.includes(gen),
      `${kind}: file holds generation ${gen}, expected one of ${expected} (round ${round})`,
    );
    current = gen;
  }
  return { kills, midSave };
}

Deno.test("gzip:// saves are atomic: SIGKILL during a save leaves the old or the new file, whole", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rap_crash_gz_" });
  try {
    const path = `${dir}/image.gz`;
    const size = 4 * 1024 * 1024;
    await Deno.writeFile(path, await gzipFile(generation(0, size)));
    const { kills, midSave } = await killDuringSaves(
      "gzip",
      path,
      size,
      (bytes) => decodeCompressed(bytes, 50_000_000).data,
    );
    assert.equal(kills, ROUNDS);
    assert.ok(midSave > 0, "no kill landed during a save");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ihex:// saves are atomic: SIGKILL during a save leaves the old or the new file, whole", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rap_crash_hex_" });
  try {
    const path = `${dir}/image.hex`;
    const size = 256 * 1024;
    await Deno.writeTextFile(path, ihexText(0, generation(0, size)));
    const { kills, midSave } = await killDuringSaves("ihex", path, size, (bytes) => {
      const image = buildSparseImage(parseIntelHex(new TextDecoder().decode(bytes)).records);
      assert.deepEqual(image.ranges(), [{ from: 0, to: size }]);
      return image.read(0, size, 0xff);
    });
    assert.equal(kills, ROUNDS);
    assert.ok(midSave > 0, "no kill landed during a save");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writes a RAP server acknowledged are in the file after the client closes and the server is SIGKILLed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rap_crash_file_" });
  try {
    const path = `${dir}/data.bin`;
    await Deno.writeFile(path, new Uint8Array(256 * 1024));
    const random = new Random(5);
    for (let round = 0; round < 3; round++) {
      const server = await startServe({
        flags: ["--allow-net=127.0.0.1", `--allow-read=${dir}`, `--allow-write=${dir}`],
        args: ["-w"],
      });
      const data = random.bytes(256 * 1024);
      const client = await RapClient.connect({ hostname: "127.0.0.1", port: server.port });
      await client.open(path, 6);
      // Pipelined 4 KiB writes; each is acknowledged before write() resolves.
      assert.equal(await client.write(0, data), data.length);
      await client.close();
      const { status } = await server.stop("SIGKILL");
      assert.equal(status.signal, "SIGKILL");
      assert.deepEqual(await Deno.readFile(path), data, `round ${round}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a gzip:// file written over RAP is old or new and whole when the server is SIGKILLed at the client's close", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rap_crash_rapgz_" });
  try {
    const path = `${dir}/image.gz`;
    const size = 1024 * 1024;
    await Deno.writeFile(path, await gzipFile(generation(0, size)));
    let current = 0;
    const outcomes = { old: 0, new: 0 };
    for (let round = 1; round <= 4; round++) {
      const server = await startServe({
        flags: ["--allow-net=127.0.0.1", `--allow-read=${dir}`, `--allow-write=${dir}`],
        args: ["-w"],
      });
      const client = await RapClient.connect({ hostname: "127.0.0.1", port: server.port });
      await client.open(`gzip://${path}`, 6);
      await client.write(0, generation(current + 1, size));
      await client.close(); // the server saves when it sees the connection close
      if (round % 2 === 0) {
        // Half the rounds: let the save finish (it is logged once the files are closed).
        await server.stop("SIGTERM");
      } else {
        await server.stop("SIGKILL");
      }
      const gen = generationOf(decodeCompressed(await Deno.readFile(path), 50_000_000).data);
      assert.ok(gen === current || gen === current + 1, `generation ${gen} after ${current}`);
      if (gen === current) outcomes.old++;
      else outcomes.new++;
      current = gen;
    }
    // A SIGTERM lets the server close its sessions, which saves.
    assert.ok(outcomes.new >= 2, JSON.stringify(outcomes));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
