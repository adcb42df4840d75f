/**
 * What "open, then verify" costs per open: `Deno.open` + close against `openInScope` +
 * close, on one file, in a child process under `--allow-read=DIR` (where the check runs)
 * and under `--allow-all` (where there is no scope and it is skipped).
 *
 * Usage: `deno run -A bench/open_scope_cost.ts [--opens N]` (default 20,000).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { openInScope } from "../lib/io/open_file.ts";

async function measure(path: string, opens: number): Promise<Record<string, number>> {
  const time = async (open: () => Promise<Deno.FsFile>) => {
    for (let i = 0; i < 200; i++) (await open()).close(); // warm up
    const started = performance.now();
    for (let i = 0; i < opens; i++) (await open()).close();
    return ((performance.now() - started) * 1000) / opens;
  };
  const plain = await time(() => Deno.open(path));
  const scoped = await time(() => openInScope(path));
  return { plainUs: plain, scopedUs: scoped, extraUs: scoped - plain };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { opens: { type: "string", default: "20000" }, child: { type: "string" } },
  });
  const opens = Number(values.opens);
  if (values.child) {
    console.log(JSON.stringify(await measure(values.child, opens)));
  } else {
    const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "rap_open_cost_" }));
    try {
      const path = `${dir}/sub/file.bin`;
      await Deno.mkdir(`${dir}/sub`);
      await Deno.writeFile(path, new Uint8Array(4096));
      for (const flags of [[`--allow-read=${dir}`], ["--allow-all"]]) {
        const { stdout, success } = await new Deno.Command(Deno.execPath(), {
          args: ["run", ...flags, import.meta.filename!, "--child", path, "--opens", `${opens}`],
          stderr: "inherit",
        }).output();
        if (!success) throw new Error(`child under ${flags.join(" ")} failed`);
        const r = JSON.parse(new TextDecoder().decode(stdout));
        console.log(
          `${flags[0].split("=")[0].padEnd(13)} Deno.open ${r.plainUs.toFixed(1)} µs, ` +
            `openInScope ${r.scopedUs.toFixed(1)} µs: +${r.extraUs.toFixed(1)} µs per open ` +
            `(${opens} opens)`,
        );
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
}
