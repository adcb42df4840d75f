// Reads "at once" (ReadIntoOptions.atOnce): a server with one request under way reads file
// pieces synchronously; with another connection's request in progress it does not, and
// the bytes are the same either way. `rap cat`, which has nothing else to do, always asks.

import {
  DescriptorBase,
  type IoDescriptor,
  type IoPlugin,
  IoRegistry,
  openUri,
  type ReadIntoOptions,
} from "../mod.ts";
import assert from "node:assert/strict";
import { startTestServer } from "../testing.ts";

const DATA = Uint8Array.from({ length: 3 << 20 }, (_, i) => (i * 7 + (i >> 16)) & 0xff);

/** Bytes in memory, read through `readInto` only, recording how each read was asked. */
class RecordingDescriptor extends DescriptorBase implements IoDescriptor {
  readonly asked: (boolean | undefined)[];
  readonly #hold: Promise<void> | undefined;

  constructor(uri: string, asked: (boolean | undefined)[], hold?: Promise<void>) {
    super(uri, "rec", false);
    this.asked = asked;
    this.#hold = hold;
  }

  size(): Promise<number> {
    return Promise.resolve(DATA.length);
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    return Promise.resolve(DATA.slice(offset, offset + length));
  }

  async readInto(offset: number, into: Uint8Array, options?: ReadIntoOptions): Promise<number> {
    this.asked.push(options?.atOnce);
    if (this.#hold !== undefined) await this.#hold;
    const part = DATA.subarray(offset, offset + into.length);
    into.set(part);
    return part.length;
  }
}

/** Whether the pieces of one large read (at least two) were all asked `atOnce: want`. */
function allAsked(asked: readonly (boolean | undefined)[], want: boolean): boolean {
  return asked.length >= 2 && asked.every((atOnce) => atOnce === want);
}

function recordingPlugin(asked: (boolean | undefined)[], hold?: Promise<void>): IoPlugin {
  return {
    name: "rec",
    description: "recording test bytes",
    schemes: ["rec", "held"],
    uriForms: ["rec://", "held://"],
    capabilities: { read: true, write: false, resize: false, system: false },
    permissions: () => [],
    open: (uri) =>
      Promise.resolve(
        new RecordingDescriptor(
          uri,
          uri.startsWith("held") ? [] : asked,
          uri.startsWith("held") ? hold : undefined,
        ),
      ),
  };
}

Deno.test("a READ_AT alone on the server reads at once; beside another request it does not", async () => {
  const asked: (boolean | undefined)[] = [];
  const release = Promise.withResolvers<void>();
  const registry = new IoRegistry([recordingPlugin(asked, release.promise)]);
  await using server = startTestServer({ registry });
  await using a = await server.connect({ extensions: true });
  const fd = await a.open("rec://x");
  const alone = await a.read(0, 2 << 20, fd);
  assert.deepEqual(alone, DATA.subarray(0, 2 << 20));
  assert.ok(allAsked(asked, true), `${asked}`);

  // Another connection's READ_AT is held inside its plugin: reads are no longer at once.
  await using b = await server.connect({ extensions: true });
  const heldFd = await b.open("held://y");
  const held = b.read(0, 16, heldFd);
  while (server.server.requestsUnderWay === 0) await new Promise((r) => setTimeout(r, 1));
  asked.length = 0;
  const beside = await a.read(1 << 20, 2 << 20, fd);
  assert.deepEqual(beside, DATA.subarray(1 << 20, 3 << 20));
  assert.ok(allAsked(asked, false), `${asked}`);
  release.resolve();
  assert.deepEqual(await held, DATA.subarray(0, 16));
});

Deno.test("file:// reads at once give the same bytes, also while another read of the file is under way", async () => {
  const path = await Deno.makeTempFile();
  try {
    await Deno.writeFile(path, DATA);
    await using desc = await openUri(path);
    const quiet = new Uint8Array(1 << 20);
    assert.equal(await desc.readInto!(5, quiet, { atOnce: true }), quiet.length);
    assert.deepEqual(quiet, DATA.subarray(5, 5 + quiet.length));
    // An ordinary read is queued first: the read at once takes its turn behind it instead of
    // seeking the shared file position under it.
    const first = new Uint8Array(1 << 20);
    const second = new Uint8Array(1 << 20);
    const queued = desc.readInto!(2 << 20, first);
    for (let i = 0; i < 4; i++) await null; // its seek is done, its read on Deno's IO thread
    const atOnce = desc.readInto!(100, second, { atOnce: true });
    assert.equal(await queued, first.length);
    assert.equal(await atOnce, second.length);
    assert.deepEqual(first, DATA.subarray(2 << 20, (2 << 20) + first.length));
    assert.deepEqual(second, DATA.subarray(100, 100 + second.length));
    const tail = new Uint8Array(64);
    assert.equal(await desc.readInto!(DATA.length - 10, tail, { atOnce: true }), 10);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("rap cat reads into its buffers at once, and writes the bytes in order", async () => {
  const plugin = new URL("fixtures/read_options_plugin.ts", import.meta.url).pathname;
  const root = new URL("../", import.meta.url).pathname;
  const size = (3 << 20) + 12345;
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      `--allow-read=${root}`, // the plugin imports @rap/cli/io
      `${root}cli.ts`,
      "cat",
      "--plugin",
      plugin,
      `readopts://${size}`,
    ],
    env: { NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const errors = new TextDecoder().decode(stderr);
  assert.equal(code, 0, errors);
  assert.equal(stdout.length, size);
  for (let i = 0; i < size; i += 4093) {
    assert.equal(stdout[i], (i * 7 + (i >> 16)) & 0xff, `byte ${i}`);
  }
  const asked = JSON.parse(/^readopts: (.*)$/m.exec(errors)?.[1] ?? "[]") as boolean[];
  assert.ok(allAsked(asked, true), errors);
});
