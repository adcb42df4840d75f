import assert from "node:assert/strict";
import "../mod.ts"; // the built-in plugins
import { Shell } from "../lib/shell/shell.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A listener that types `commands` at the reverse prompt and collects what it sees. */
function typist(commands: string[]) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const seen = (async () => {
    const conn = await listener.accept();
    listener.close();
    const buf = new Uint8Array(4096);
    let text = "";
    try {
      for (let i = 0; i <= commands.length; i++) {
        while (text.split("]> ").length - 1 <= i) {
          const n = await conn.read(buf);
          if (n === null) return text;
          text += decoder.decode(buf.subarray(0, n));
        }
        if (i < commands.length) await conn.write(encoder.encode(commands[i]));
      }
      return text;
    } finally {
      conn.close();
    }
  })();
  return { port: (listener.addr as Deno.NetAddr).port, seen };
}

Deno.test("=r host:port serves a reverse prompt until q, under the peer policy", async () => {
  await using shell = new Shell();
  await shell.session.open("hex://00112233");
  const peer = typist(["s 2", "p8 2", "wtf /tmp/rap_reverse_prompt_test", "q"]);
  const out = await shell.run(`=r 127.0.0.1:${peer.port}`);
  const seen = await peer.seen;
  assert.match(out, /reverse prompt to 127\.0\.0\.1:\d+ closed after 3 command\(s\)/);
  const [first, second, third, fourth] = seen.split("]> ");
  assert.equal(first, "[0x00000000");
  assert.equal(second, "\n[0x00000002");
  assert.equal(third, "2233\n[0x00000002");
  assert.match(fourth, /^ERROR: .*not allowed.*\n\[0x00000002$/);
});

Deno.test("=R retries until the listener is there; =r to nobody is an error", async () => {
  await using shell = new Shell();
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  assert.match(await shell.run(`=r 127.0.0.1:${port}`), /ERROR|refused/i);
  const running = shell.run(`=R 127.0.0.1:${port}`);
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  const conn = await listener.accept();
  listener.close();
  await conn.write(encoder.encode("q"));
  conn.close();
  assert.match(await running, /closed after 0 command\(s\)/);
});
