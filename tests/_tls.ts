/**
 * A throwaway CA and a certificate for 127.0.0.1/localhost signed by it
 * (Debian's `openssl`), for tests that serve wss:// and https://.
 *
 * @module
 */
import assert from "node:assert/strict";

/** The files made, and a way to remove them. */
export interface TestCert extends AsyncDisposable {
  /** The directory holding them. */
  readonly dir: string;
  /** The CA's certificate (what a client must trust). */
  readonly caFile: string;
  /** The server's certificate. */
  readonly certFile: string;
  /** The server's private key. */
  readonly keyFile: string;
}

/** Makes a CA and a server certificate in a new temporary directory. */
export async function makeTestCert(): Promise<TestCert> {
  const dir = await Deno.makeTempDir({ prefix: "fanout-tls-" });
  await Deno.writeTextFile(
    `${dir}/ext.cnf`,
    "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
  );
  const openssl = async (args: string) => {
    const out = await new Deno.Command("openssl", {
      args: args.split(" "),
      cwd: dir,
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(
      out.code,
      0,
      `openssl ${args}: ${new TextDecoder().decode(out.stderr)}`,
    );
  };
  await openssl(
    "req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=test-ca -keyout ca.key -out ca.pem",
  );
  await openssl(
    "req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout key.pem -out leaf.csr",
  );
  await openssl(
    "x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile ext.cnf -out cert.pem",
  );
  return {
    dir,
    caFile: `${dir}/ca.pem`,
    certFile: `${dir}/cert.pem`,
    keyFile: `${dir}/key.pem`,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}
