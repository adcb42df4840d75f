/**
 * One usage-error style for every command (`rap <command>: ... (see rap <command> --help)`,
 * one line, exit 2), values checked against what each option can use, and a closed
 * standard output that ends a command quietly, as coreutils do (real pipes, in bash).
 */

import assert from "node:assert/strict";
import { CLI_PATH, runRap } from "./_serve_process.ts";

const decoder = new TextDecoder();

const rap = (args: string[], flags: string[] = []) => runRap(flags, args);

const USAGE_ERRORS: [string[], string][] = [
  [["cat", "x", "--bogus"], 'rap cat: unknown option "--bogus"'],
  [
    ["cat", "x", "--offset", "-5"],
    'rap cat: --offset needs a value; write --offset=-X for one that starts with "-"',
  ],
  [
    ["cat", "x", "--offset=-5"],
    'rap cat: --offset expects a number of bytes (4096, 0x1000, 64K, 1G), got "-5"',
  ],
  [["cat", "x", "--size"], "rap cat: --size needs a value"],
  [["cat", "--help=yes"], "rap cat: --help takes no value"],
  [["cat"], "rap cat: expected one URI, got 0"],
  [["shell", "-z"], 'rap shell: unknown option "-z"'],
  [["shell", "--bogus"], 'rap shell: unknown option "--bogus"'],
  [["shell", "--ca"], "rap shell: --ca needs a value"],
  [
    ["serve", "--cmd-timeout", "1.5"],
    'rap serve: --cmd-timeout expects whole milliseconds (e.g. 5000), got "1.5"',
  ],
  [["serve", "--max-connections", "0"], "rap serve: --max-connections must be at least 1, got 0"],
  [
    ["serve", "--max-memory", "lots"],
    'rap serve: --max-memory expects a number of bytes (4096, 0x1000, 64K, 1G), got "lots"',
  ],
  [["serve", "--port", "70000"], "rap serve: --port must be 0 to 65535, got 70000"],
  [["serve", "--log-format", "xml"], 'rap serve: --log-format expects text or json, got "xml"'],
  [["serve", "a", "b"], "rap serve: expected at most one URI, got 2"],
  [["plugins", "x"], "rap plugins: takes no arguments"],
  [["cert"], "rap cert: expected one directory, got 0"],
  [
    ["cert", "d", "--host", "bad host"],
    'rap cert: --host: Cannot put "bad host" in a certificate: not an IP address or DNS name',
  ],
];

Deno.test("every usage mistake is one line naming the command, its --help, and exit 2", async () => {
  for (const [args, message] of USAGE_ERRORS) {
    const out = await rap(args);
    const command = args[0];
    assert.equal(out.code, 2, args.join(" "));
    assert.equal(out.stderr, `${message} (see rap ${command} --help)\n`, args.join(" "));
    assert.equal(out.stdout, "");
  }
  const unknown = await rap(["bogus"]);
  assert.equal(unknown.code, 2);
  assert.equal(unknown.stderr, 'rap: unknown command "bogus" (see rap --help)\n');
});

Deno.test("quotes in usage errors are balanced", async () => {
  for (const [args] of USAGE_ERRORS) {
    const { stderr } = await rap(args);
    assert.equal((stderr.match(/"/g) ?? []).length % 2, 0, stderr);
    assert.doesNotMatch(stderr, /'/, stderr);
  }
});

const HAS_XXD = new Deno.Command("bash", { args: ["-c", "command -v xxd"], stdout: "null" })
  .outputSync().success;

/** Run `script` in bash with pipefail off; the exit code of the pipeline's first command. */
async function pipeline(script: string) {
  const out = await new Deno.Command("bash", {
    args: ["-c", `${script}; echo "status=\${PIPESTATUS[0]}" >&2`],
    env: { RAP_CLI: CLI_PATH, DENO: Deno.execPath() },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = decoder.decode(out.stderr);
  const status = Number(/status=(\d+)\n$/.exec(stderr)?.[1]);
  return { status, stderr: stderr.replace(/status=\d+\n$/, ""), stdout: out.stdout };
}

Deno.test(
  "cat FILE | head -c 10 exits 0 with nothing on stderr; so do | xxd | head and the shell",
  {
    ignore: !HAS_XXD,
  },
  async () => {
    const path = await Deno.makeTempFile();
    try {
      await Deno.writeFile(path, new Uint8Array(8 << 20).fill(0x41));
      const run = `"$DENO" run --quiet --allow-read=${path} "$RAP_CLI"`;
      const head = await pipeline(`${run} cat ${path} | head -c 10`);
      assert.equal(head.stderr, "");
      assert.equal(head.status, 0);
      assert.equal(decoder.decode(head.stdout), "AAAAAAAAAA");
      const xxd = await pipeline(`${run} cat ${path} | xxd | head -2`);
      assert.equal(xxd.stderr, "");
      assert.equal(xxd.status, 0);
      assert.equal(decoder.decode(xxd.stdout).split("\n").length, 3);
      const shell = await pipeline(`${run} shell -qc 'px 4M' ${path} | head -2`);
      assert.equal(shell.stderr, "");
      assert.equal(shell.status, 0);
      assert.match(decoder.decode(shell.stdout), /^- offset -/);
    } finally {
      await Deno.remove(path);
    }
  },
);
