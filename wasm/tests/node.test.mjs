// The binding's tests under Node (node --test), over the `nodejs` package that
// `wasm/build.sh` writes to target/wasm-pkg/node (or $HUSHWIRE_WASM_NODE_PKG).
import { test } from "node:test";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";

import { cases } from "./cases.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const pkg = process.env.HUSHWIRE_WASM_NODE_PKG ?? path.join(here, "../../target/wasm-pkg/node");
const hw = createRequire(import.meta.url)(pkg);

for (const [name, run] of cases) {
  test(name, () => run(hw));
}

test("the package's TypeScript types declare the API", async () => {
  const { readFile } = await import("node:fs/promises");
  const dts = await readFile(path.join(pkg, "hushwire_wasm.d.ts"), "utf8");
  for (const name of ["class Account", "class Session", "class GroupSession", "class Masker",
    "function verifyOperator", "function encryptAttachment", "interface HushwireError"]) {
    if (!dts.includes(name)) throw new Error(`hushwire_wasm.d.ts lacks ${name}`);
  }
});
