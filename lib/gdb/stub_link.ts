/**
 * What a file behind a GDB stub (`gdb://`, `dbg://`) offers the GDB server (`=g`,
 * `serve --gdb-port`): a way to pass a client's register and execution packets through to
 * the stub, so that gdb debugs the process through rap.
 *
 * @example
 * ```ts
 * import { isGdbStubLink } from "./stub_link.ts";
 * console.assert(!isGdbStubLink({ read() {} }));
 * ```
 *
 * @module
 */

/**
 * A descriptor whose bytes are a process's memory behind a GDB stub.
 *
 * @example
 * ```ts
 * import type { GdbStubLink } from "./stub_link.ts";
 * const link: GdbStubLink = {
 *   stubFeatures: ["PacketSize=4000"],
 *   stubRequest: (packet) => Promise.resolve(packet === "?" ? "S05" : ""),
 *   stubResume: () => Promise.resolve("W00"),
 * };
 * console.assert(link.stubFeatures.length === 1);
 * ```
 */
export interface GdbStubLink {
  /** The features of the stub's `qSupported` reply (`PacketSize=...`, `multiprocess+` ...). */
  readonly stubFeatures: readonly string[];
  /**
   * Send a packet to the stub and return its reply.
   *
   * @param payload The packet (latin-1 text, binary data escaped).
   * @returns The reply (latin-1, escapes kept).
   */
  stubRequest(payload: string): Promise<string>;
  /**
   * Send an execution packet (`c`, `s`, `vCont;...`) and wait for its stop reply, however
   * long the process runs.
   *
   * @param payload The packet.
   * @param signal Interrupts the process (its stop reply still comes back).
   * @returns The stop reply.
   */
  stubResume(payload: string, signal?: AbortSignal): Promise<string>;
}

/**
 * Whether a descriptor passes GDB packets through to a stub.
 *
 * @param value A descriptor.
 * @returns True when it is a {@linkcode GdbStubLink}.
 *
 * @example
 * ```ts
 * import { isGdbStubLink } from "./stub_link.ts";
 * const link = { stubFeatures: [], stubRequest: async () => "", stubResume: async () => "" };
 * console.assert(isGdbStubLink(link));
 * ```
 */
export function isGdbStubLink(value: unknown): value is GdbStubLink {
  const v = value as Partial<GdbStubLink> | null;
  return typeof v?.stubRequest === "function" && typeof v.stubResume === "function" &&
    Array.isArray(v.stubFeatures);
}
