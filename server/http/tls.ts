/**
 * Reading the TLS certificate and key named by the config.
 *
 * @module
 */
import { UsageError } from "../../lib/cli_args.ts";
import type { TlsSection } from "../config/config.ts";

/**
 * Reads the PEM files, or says which one cannot be read.
 * @returns the texts for `Deno.serve`, or undefined without TLS
 * @throws {UsageError} naming the flag and file that cannot be read
 */
export function readTls(
  tls: TlsSection | undefined,
): { cert: string; key: string } | undefined {
  if (tls === undefined) return undefined;
  const read = (flag: string, path: string) => {
    try {
      return Deno.readTextFileSync(path);
    } catch (err) {
      throw new UsageError(
        `${flag} ${path}: cannot read file (${
          (err as Error).message.split(":")[0]
        })`,
      );
    }
  };
  return {
    cert: read("--cert", tls.certFile),
    key: read("--key", tls.keyFile),
  };
}
