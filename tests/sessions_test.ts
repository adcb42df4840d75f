import assert from "node:assert/strict";
import "../mod.ts"; // the built-in plugins
import { Shell } from "../lib/shell/shell.ts";

Deno.test("=ll serves =h and registers the session; =l lists it, =l- removes it", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "rap_sessions_" });
  const before = Deno.env.get("TMPDIR");
  Deno.env.set("TMPDIR", tmp);
  try {
    await Deno.mkdir(`${tmp}/r2`);
    await Deno.writeTextFile(`${tmp}/r2/999999999.pid`, "r2web://127.0.0.1:1/cmd#gone");
    await using shell = new Shell();
    await shell.session.open("hex://41424344");
    assert.equal(await shell.run("=l"), ""); // the dead session's file is dropped
    await shell.run("=ll");
    const line = await shell.run("=l");
    const m = /^r2 (r2web:\/\/127\.0\.0\.1:(\d+)\/cmd) # pid (\d+) \(hex:\/\/41424344\)\n$/.exec(
      line,
    );
    assert.ok(m, line);
    assert.equal(Number(m[3]), Deno.pid);
    const [session] = JSON.parse(await shell.run("=lj"));
    assert.equal(session.uri, m[1]);
    const res = await fetch(`http://127.0.0.1:${m[2]}/cmd/p8%202`);
    assert.equal(await res.text(), "4142\n");
    await shell.run("=l-");
    assert.equal(await shell.run("=l"), "");
    assert.deepEqual([...Deno.readDirSync(`${tmp}/r2`)], []);
  } finally {
    if (before === undefined) Deno.env.delete("TMPDIR");
    else Deno.env.set("TMPDIR", before);
    await Deno.remove(tmp, { recursive: true });
  }
});
