/**
 * Big CMDs against a `cli.ts serve malloc://1M` subprocess while a checker client (python3,
 * tests/peers/cmd_peer.py) reads and compares bytes on another connection: prints, for each
 * command, its reply size and time and the checker operations served while it ran, then
 * the checker's slowest operation and the server's peak memory.
 *
 * ```sh
 * deno run -A bench/cmd_bench.ts ["px 32M" ...] [-- serve options, e.g. --cmd-timeout 0]
 * ```
 *
 * @module
 */

import { mib, startServe } from "../tests/_serve_process.ts";

const split = Deno.args.indexOf("--");
const commands = split < 0 ? Deno.args : Deno.args.slice(0, split);
const serveArgs = split < 0 ? [] : Deno.args.slice(split + 1);
if (commands.length === 0) commands.push("px 32M");

const sample = await Deno.makeTempFile({ suffix: ".bin" });
try {
  await Deno.writeFile(sample, crypto.getRandomValues(new Uint8Array(65536)));
  await using server = await startServe({ args: ["-w", "malloc://1M", ...serveArgs] });
  const peer = new URL("../tests/peers/cmd_peer.py", import.meta.url).pathname;
  const output = await new Deno.Command("python3", {
    args: [
      peer,
      "cmds",
      "127.0.0.1",
      String(server.port),
      sample,
      ...commands.flatMap((c) => [
        "--cmd",
        c,
      ]),
    ],
    stderr: "inherit",
  }).output();
  if (!output.success) throw new Error(`cmd_peer.py failed (${output.code})`);
  const result = JSON.parse(new TextDecoder().decode(output.stdout));
  for (const r of result.results) {
    console.log(
      `${JSON.stringify(r.cmd)}: ${r.bytes} bytes in ${r.ms} ms, ` +
        `${r.ops_inside} checker ops served meanwhile, next command ${r.probe_ms} ms`,
    );
  }
  const { ops, errors, wrong, max_ms } = result.checker;
  console.log(
    `checker: ${ops} ops, ${errors.length} errors, ${wrong} wrong, slowest ${max_ms} ms` +
      (errors.length ? ` (${errors[0]})` : ""),
  );
  console.log(`server peak RSS: ${mib((await server.peakRss()) ?? 0)}`);
  await server.stop();
} finally {
  await Deno.remove(sample);
}
