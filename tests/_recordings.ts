/**
 * Reads the radare2 wire recordings in ../shared/r2-wire/ as test vectors.
 */

/** One recorded packet. */
export interface RecordedPacket {
  /** `>` client → server, `<` server → client. */
  direction: ">" | "<";
  /** The exact wire bytes (a prefix only when `elided`). */
  bytes: Uint8Array;
  /** The dump left out the end of this packet. */
  elided: boolean;
}

/** One recording file. */
export interface Recording {
  name: string;
  packets: RecordedPacket[];
}

export const RECORDINGS_DIR = new URL("../../shared/r2-wire/", import.meta.url);

/** Parse one `.hex` recording. */
export function parseRecording(name: string, text: string): Recording {
  const packets: RecordedPacket[] = [];
  let current: { direction: ">" | "<"; bytes: number[]; elided: boolean } | undefined;
  const end = () => {
    if (current) {
      packets.push({
        direction: current.direction,
        bytes: new Uint8Array(current.bytes),
        elided: current.elided,
      });
    }
    current = undefined;
  };
  for (const line of text.split("\n")) {
    const m = /^([<>]) ((?:[0-9a-f]{2} ?)+)$/.exec(line);
    if (m) {
      const direction = m[1] as ">" | "<";
      if (current && current.direction !== direction) end();
      current ??= { direction, bytes: [], elided: false };
      for (const hex of m[2].trim().split(" ")) current.bytes.push(parseInt(hex, 16));
      continue;
    }
    if (/^# \.\.\. \d+ more bytes of this packet elided/.test(line) && current) {
      current.elided = true;
      continue;
    }
    // A decode line ("#   ...") or anything else ends the block.
    end();
  }
  end();
  return { name, packets };
}

/** Every recording, sorted by name. */
export async function loadRecordings(): Promise<Recording[]> {
  const out: Recording[] = [];
  for await (const entry of Deno.readDir(RECORDINGS_DIR)) {
    if (!entry.name.endsWith(".hex")) continue;
    const text = await Deno.readTextFile(new URL(entry.name, RECORDINGS_DIR));
    out.push(parseRecording(entry.name, text));
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}
