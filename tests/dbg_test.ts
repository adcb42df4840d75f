// dbg://, pid://, pidof:// against Debian's real gdbserver, on a program built with gcc
// here (non-PIE: its addresses are its ELF's and nm's). Skipped without gdbserver/gcc/nm.

import assert from "node:assert/strict";
import { IoRegistry } from "../mod.ts";
import dbg from "../plugins/dbg.ts";
import type { IoDescriptor } from "../lib/io/types.ts";
import { CLI_PATH, startServe } from "./_serve_process.ts";
import {
  buildProgram,
  CAN_DEBUG,
  fileOffset,
  leftProcesses,
  processesOf,
  type TestProgram,
  TOOLS,
} from "./_debug_tools.ts";

if (!CAN_DEBUG) {
  console.warn(
    "dbg_test.ts: gdbserver, gcc or nm is not on PATH; the debugging tests are skipped " +
      "(apt-get install -y gdbserver gcc)",
  );
}

const hex = (n: number) => `0x${n.toString(16).padStart(8, "0")}`;

async function withProgram(name: string, body: (p: TestProgram) => Promise<void>) {
  const program = await buildProgram(name);
  try {
    await body(program);
    assert.deepEqual(await leftProcesses(program.path), [], "a debugged process was left");
  } finally {
    await Deno.remove(program.dir, { recursive: true });
  }
}

async function system(desc: IoDescriptor, command: string): Promise<string> {
  return await desc.system!(command);
}

async function rapShell(args: string[], env?: Record<string, string>) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", CLI_PATH, "shell", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env,
  }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

Deno.test({
  name: "dbg:///prog reads the program's entry bytes and ELF header at their addresses",
  ignore: !CAN_DEBUG,
  fn: () =>
    withProgram("entry", async (program) => {
      await using desc = await new IoRegistry().open(`dbg://${program.path}`);
      const at = fileOffset(program.elf, program.entry);
      assert.deepEqual(
        await desc.read(program.entry, 16),
        program.elf.subarray(at, at + 16),
      );
      assert.deepEqual(await desc.read(0x400000, 64), program.elf.subarray(0, 64));
      assert.match(await system(desc, "dp"), new RegExp(`^\\* \\d+ s ${program.path}\\n$`));
    }),
});

Deno.test({
  name: "rap shell -qc 'db ADDR;dc;dr rip' dbg:///prog stops at main and leaves no process",
  ignore: !CAN_DEBUG,
  fn: () =>
    withProgram("shell", async (program) => {
      const main = program.symbols.get("main")!;
      const { code, stdout, stderr } = await rapShell([
        "-qc",
        `db ${hex(main)};dc;dr rip`,
        `dbg://${program.path}`,
      ]);
      assert.equal(code, 0, stderr);
      assert.equal(stdout, `hit breakpoint at: ${hex(main)}\n${hex(main)}\n`);
    }),
});

Deno.test({
  name:
    "dbg:// steps (ds), steps over a call (dso), stops at a second breakpoint, runs to the exit",
  ignore: !CAN_DEBUG,
  fn: () =>
    withProgram("steps", async (program) => {
      const main = program.symbols.get("main")!;
      const add = program.symbols.get("add")!;
      await using desc = await dbg.open(`dbg://${program.path}`, {});
      await system(desc, `db ${hex(main)}`);
      await system(desc, `db ${add}`);
      // Listed by address: add comes before main.
      assert.match(await system(desc, "db"), new RegExp(`^${hex(add)} - .*\\n${hex(main)} - `));
      assert.equal(await system(desc, "dc"), `hit breakpoint at: ${hex(main)}\n`);
      assert.equal(await system(desc, "ds"), "");
      assert.equal(await system(desc, "dr rip"), `${hex(main + 1)}\n`); // push %rbp
      assert.equal(await system(desc, "dc"), `hit breakpoint at: ${hex(add)}\n`);
      const regs = await system(desc, "dr");
      assert.match(regs, new RegExp(`^rip = ${hex(add)}$`, "m"));
      assert.match(regs, /^rsp = 0x[0-9a-f]{8,}$/m);
      assert.match(regs, /^rflags = /m);
      assert.equal(JSON.parse(await system(desc, "drj")).rip, add);
      await system(desc, `db-${hex(add)}`);
      const stop = await system(desc, "dc");
      assert.equal(stop, "(" + stop.match(/\d+/)![0] + ") Process exited with status=0x7\n");
      await assert.rejects(system(desc, "dr"), /exited with status=0x7/);
    }),
});

Deno.test({
  name: "dbg:// dso runs a call to its return; dm lists the program's maps",
  ignore: !CAN_DEBUG,
  fn: () =>
    withProgram("over", async (program) => {
      const main = program.symbols.get("main")!;
      await using desc = await dbg.open(`dbg://${program.path}`, {});
      await system(desc, `db ${hex(main)}`);
      await system(desc, "dc");
      // Step to the call of add (an e8 rel32 call), then over it.
      const text = await desc.read(main, 64);
      const call = main + text.indexOf(0xe8);
      for (let i = 0; i < 16 && await system(desc, "dr rip") !== `${hex(call)}\n`; i++) {
        await system(desc, "ds");
      }
      assert.equal(await system(desc, "dr rip"), `${hex(call)}\n`);
      await system(desc, "dso");
      assert.equal(await system(desc, "dr rip"), `${hex(call + 5)}\n`);
      const maps = await system(desc, "dm");
      assert.match(maps, new RegExp(`^0x0000000000401000 - .* r-xp ${program.path}$`, "m"));
      assert.match(maps, /\[stack\]$/m);
      await system(desc, "dk");
      await assert.rejects(system(desc, "ds"), /was killed/);
    }),
});

Deno.test({
  name: "a server killed with SIGKILL leaves no debugged process (gdbserver --once ends it)",
  ignore: !CAN_DEBUG,
  fn: () =>
    withProgram("killed", async (program) => {
      // With an argument the program sleeps a minute: it is there until someone ends it.
      await using server = await startServe({
        flags: ["-A"],
        args: [`dbg://${program.path} sleep`],
      });
      assert.equal((await processesOf(program.path)).length, 2, "gdbserver and the program");
      await server.stop("SIGKILL");
      // withProgram checks that neither is left.
    }),
});

/** Whether this kernel lets a process attach to one that is not its child. */
async function canAttach(): Promise<boolean> {
  try {
    return (await Deno.readTextFile("/proc/sys/kernel/yama/ptrace_scope")).trim() === "0";
  } catch {
    return true; // no Yama: same-user attach is allowed
  }
}

Deno.test({
  name: "pid://PID and pidof://NAME attach to a sleeping process and detach on close",
  ignore: !CAN_DEBUG || !await canAttach(),
  fn: () =>
    withProgram("sleeper", async (program) => {
      const child = new Deno.Command(program.path, {
        args: ["sleep"],
        stdout: "null",
        stderr: "null",
      }).spawn();
      try {
        for (const uri of [`pid://${child.pid}`, `pidof://${program.path.split("/").at(-1)}`]) {
          const desc = await new IoRegistry().open(uri);
          try {
            assert.equal((desc as unknown as { pid: number }).pid, child.pid);
            assert.match(await system(desc, "dp"), new RegExp(`^\\* ${child.pid} s `));
            assert.match(await system(desc, "dr rip"), /^0x[0-9a-f]{8,}\n$/);
            assert.deepEqual(await desc.read(0x400000, 4), program.elf.subarray(0, 4));
          } finally {
            await desc.close();
          }
          const status = await Deno.readTextFile(`/proc/${child.pid}/status`);
          assert.match(status, /^TracerPid:\s+0$/m, `${uri}: still traced after close`);
          assert.doesNotMatch(status, /^State:\s+[tZX]/m, `${uri}: not running after close`);
        }
      } finally {
        child.kill("SIGKILL");
        await child.status;
      }
    }),
});

Deno.test("dbg:// says how to install a missing gdbserver and names both permission flags", async () => {
  const missing = await rapShell(["-qc", "dr", "dbg:///bin/true"], { PATH: "/nonexistent" });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /gdbserver is not installed \(apt-get install gdbserver\)/);
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--allow-read",
      "--allow-env",
      CLI_PATH,
      "shell",
      "-qc",
      "dr",
      "dbg:///bin/true",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.match(
    new TextDecoder().decode(out.stderr),
    /run and net access are not granted \(run with --allow-run=gdbserver --allow-net=127\.0\.0\.1\)/,
  );
});

Deno.test("dbg:// refuses a bad process id and an empty program", async () => {
  await assert.rejects(dbg.open("pid://abc", {}), /invalid process id "abc"/);
  await assert.rejects(dbg.open("dbg://", {}), /missing program or process id/);
  await assert.rejects(dbg.open("pidof://", {}), /missing process name/);
  assert.ok(TOOLS !== undefined);
});
