#!/usr/bin/env bash
# Builds hushwire-wasm for wasm32-unknown-unknown and turns it into two npm-style packages with
# the wasm-bindgen CLI (whose version must equal the wasm-bindgen crate's, see Cargo.toml):
#
#   target/wasm-pkg/web    ES module for browsers and bundlers (`import init, * as hw from …`)
#   target/wasm-pkg/node   CommonJS for Node (`require(…)`), what the Node tests load
#
# Each holds hushwire_wasm.js, hushwire_wasm.d.ts (TypeScript types), hushwire_wasm_bg.wasm and
# a package.json. Prints the .wasm size raw and gzipped.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

want="$(sed -n 's/^wasm-bindgen = "=\(.*\)"$/\1/p' wasm/Cargo.toml)"
have="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)"
if [[ "$have" != "$want" ]]; then
    echo "wasm-bindgen CLI $want needed (found: ${have:-none}):" \
        "cargo install wasm-bindgen-cli --version $want" >&2
    exit 1
fi

cargo build -p hushwire-wasm --lib --release --target wasm32-unknown-unknown
wasm="${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/release/hushwire_wasm.wasm"
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' wasm/Cargo.toml | head -n 1)"
for target in web node; do
    out="target/wasm-pkg/$target"
    rm -rf "$out"
    wasm-bindgen --target "$([[ $target == node ]] && echo nodejs || echo web)" \
        --out-dir "$out" "$wasm"
    module=$([[ $target == web ]] && echo '"type": "module",' || true)
    cat >"$out/package.json" <<JSON
{
  "name": "hushwire-wasm",
  "version": "$version",
  "description": "hushwire end-to-end encryption for the browser (WebAssembly)",
  "license": "MIT OR Apache-2.0",
  $module
  "main": "hushwire_wasm.js",
  "types": "hushwire_wasm.d.ts",
  "files": ["hushwire_wasm.js", "hushwire_wasm.d.ts", "hushwire_wasm_bg.wasm", "hushwire_wasm_bg.wasm.d.ts"],
  "sideEffects": false
}
JSON
done
raw=$(wc -c <target/wasm-pkg/web/hushwire_wasm_bg.wasm)
gz=$(gzip -9 -c target/wasm-pkg/web/hushwire_wasm_bg.wasm | wc -c)
echo "hushwire_wasm_bg.wasm: $raw bytes raw, $gz bytes gzip -9"
