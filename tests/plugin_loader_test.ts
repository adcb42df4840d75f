import { IoRegistry, loadPlugin } from "../mod.ts";
import assert from "node:assert/strict";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";

const FIXTURE = fileURLToPath(new URL("./fixtures/example_plugin.ts", import.meta.url));
const BASE_FIXTURE = fileURLToPath(new URL("./fixtures/pattern_plugin.ts", import.meta.url));
const LOADER = new URL("../lib/io/plugin_loader.ts", import.meta.url).href;
const LIB_IO = new URL("../mod.ts", import.meta.url).href;

async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "rap_plugin_loader_test_" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("loadPlugin() loads the guide's example plugin; a registry reads through it", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/hello.txt`, "Hello, World!");
    const plugin = await loadPlugin(FIXTURE);
    assert.equal(plugin.name, "rot13");
    const registry = new IoRegistry();
    registry.register(plugin);
    await using desc = await registry.open(`rot13://${dir}/hello.txt`);
    assert.equal(desc.plugin, "rot13");
    assert.equal(await desc.size(), 13);
    assert.equal(new TextDecoder().decode(await desc.read(0, 100)), "Uryyb, Jbeyq!");
    assert.ok((await registry.list()).some((p) => p.name === "rot13"));
  });
});

Deno.test("loadPlugin() resolves a relative path against the current directory", async () => {
  const plugin = await loadPlugin(relative(Deno.cwd(), FIXTURE));
  assert.equal(plugin.name, "rot13");
});

Deno.test("loadPlugin() of a module missing plugin fields names every missing field", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/bad.ts`,
      `export default { name: "bad", schemes: ["bad"], description: "d", uriForms: [] };`,
    );
    await assert.rejects(
      loadPlugin(`${dir}/bad.ts`),
      (error: Error) => {
        assert.ok(error instanceof TypeError);
        assert.match(
          error.message,
          new RegExp(`^Invalid plugin "${dir}/bad.ts": missing or wrong`),
        );
        assert.match(error.message, /"capabilities"/);
        assert.match(error.message, /"permissions" \(a function\)/);
        assert.match(error.message, /"open" \(a function\)/);
        assert.doesNotMatch(error.message, /"name"|"schemes"|"description"/);
        return true;
      },
    );
  });
});

Deno.test("loadPlugin() of a module without a default export says so", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/none.ts`, `export const plugin = {};`);
    await assert.rejects(loadPlugin(`${dir}/none.ts`), TypeError, "got no default export");
  });
});

Deno.test("loadPlugin() rejects schemes that are not valid URI schemes", async () => {
  await withTempDir(async (dir) => {
    const source = await Deno.readTextFile(FIXTURE);
    await Deno.writeTextFile(
      `${dir}/scheme.ts`,
      source.replace(`schemes: ["rot13"]`, `schemes: ["rot13://"]`),
    );
    await assert.rejects(loadPlugin(`${dir}/scheme.ts`), TypeError, '"rot13://"');
  });
});

Deno.test("loadPlugin() of a missing or broken module fails with a clear error", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(loadPlugin(`${dir}/missing.ts`), /^Error: Cannot load plugin "/);
    await Deno.writeTextFile(`${dir}/broken.ts`, "export default {");
    await assert.rejects(loadPlugin(`${dir}/broken.ts`), /Cannot load plugin ".*broken\.ts"/);
  });
});

Deno.test("loadPlugin() refuses URL schemes it cannot import", async () => {
  await assert.rejects(
    loadPlugin("ftp://example.com/p.ts"),
    TypeError,
    'unsupported URL scheme "ftp:"',
  );
  await assert.rejects(loadPlugin(""), TypeError, "empty");
});

/**
 * In a child Deno with `flags`, load the fixture and, given `target`, open `rot13://target`
 * through a registry. Prints what happened.
 */
async function runLoader(flags: string[], target = ""): Promise<string> {
  return await withTempDir(async (dir) => {
    const script = `${dir}/load.ts`;
    await Deno.writeTextFile(
      script,
      `import { loadPlugin } from ${JSON.stringify(LOADER)};
      import { IoRegistry, PermissionDeniedError } from ${JSON.stringify(LIB_IO)};
      try {
        const plugin = await loadPlugin(Deno.args[0]);
        console.log("loaded", plugin.name);
        if (Deno.args[1]) {
          const registry = new IoRegistry();
          registry.register(plugin);
          await using desc = await registry.open("rot13://" + Deno.args[1]);
          console.log(new TextDecoder().decode(await desc.read(0, 100)));
        }
      } catch (error) {
        console.log(error instanceof PermissionDeniedError, error.flag, error.message);
      }`,
    );
    const { stdout } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", ...flags, script, FIXTURE, target],
      stdout: "piped",
      stderr: "piped",
    }).output();
    return new TextDecoder().decode(stdout).trim();
  });
}

Deno.test("loadPlugin() without read permission for the plugin file names --allow-read=PATH", async () => {
  const out = await runLoader([]);
  assert.equal(
    out,
    `true --allow-read=${FIXTURE} Cannot load plugin "${FIXTURE}": read access is ` +
      `not granted (run with --allow-read=${FIXTURE})`,
  );
});

Deno.test("loadPlugin() with --allow-read for just the plugin file loads it", async () => {
  assert.equal(await runLoader([`--allow-read=${FIXTURE}`]), "loaded rot13");
});

Deno.test("a loaded plugin's declared permissions are checked before it opens anything", async () => {
  await withTempDir(async (dir) => {
    const secret = `${dir}/secret.txt`;
    await Deno.writeTextFile(secret, "abc");
    assert.equal(
      await runLoader([`--allow-read=${FIXTURE}`], secret),
      `loaded rot13\ntrue --allow-read=${secret} Cannot open "rot13://${secret}": read access ` +
        `is not granted (run with --allow-read=${secret})`,
    );
    assert.equal(
      await runLoader([`--allow-read=${FIXTURE},${secret}`], secret),
      "loaded rot13\nnop",
    );
  });
});

Deno.test("docs/plugins.md shows the example plugin exactly as the tests load it", async () => {
  const guide = await Deno.readTextFile(new URL("../docs/plugins.md", import.meta.url));
  const fixture = await Deno.readTextFile(FIXTURE);
  assert.ok(guide.includes("```ts\n" + fixture + "```"), "the guide embeds the fixture verbatim");
});

Deno.test("the guide's plugin on DescriptorBase and definePlugin loads and reads as documented", async () => {
  const plugin = await loadPlugin(BASE_FIXTURE);
  assert.deepEqual(plugin.schemes, ["pattern"]);
  assert.deepEqual(plugin.capabilities, { read: true, write: false, resize: false, system: true });
  const registry = new IoRegistry();
  registry.register(plugin);
  const desc = await registry.open("pattern://ab");
  assert.equal(desc.plugin, "pattern");
  assert.equal(await desc.size(), Infinity);
  assert.equal(new TextDecoder().decode(await desc.read(1, 5)), "babab");
  assert.equal(await desc.system!("text"), "ab\n");
  await assert.rejects(desc.system!("bogus"), /Unknown pattern command "bogus"/);
  await assert.rejects(desc.write(0, new Uint8Array(1)), /pattern is read-only/);
  await desc.close();
  await assert.rejects(desc.read(0, 1), /is closed/);
  await assert.rejects(registry.open("pattern://"), /Cannot open "pattern:\/\/": missing TEXT/);
});

Deno.test("docs/plugins.md shows the DescriptorBase plugin exactly as the tests load it", async () => {
  const guide = await Deno.readTextFile(new URL("../docs/plugins.md", import.meta.url));
  const fixture = await Deno.readTextFile(BASE_FIXTURE);
  assert.ok(guide.includes("```ts\n" + fixture + "```"), "the guide embeds the fixture verbatim");
});
