/**
 * The package version, read from deno.json.
 *
 * @module
 */

import denoJson from "../deno.json" with { type: "json" };

/**
 * The version of this package (from deno.json).
 *
 * @example
 * ```ts
 * import { VERSION } from "@rap/cli";
 * console.assert(/^\d+\.\d+\.\d+/.test(VERSION));
 * ```
 */
export const VERSION: string = denoJson.version;
