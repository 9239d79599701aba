// End-to-end: the widget page in headless Chromium talks through the example relay's
// WebSocket endpoint to a command-line operator peer, all on loopback.
//
//   cargo build --release -p hushwire-examples --bins && wasm/build.sh && node examples/widget/e2e.mjs
//
// Starts a relay (--insecure, with --websocket), registers an operator with the CLI peer,
// serves this folder and the `web` package, opens the page, sends a message from the page
// (with a card number, which the widget masks), reads it with `peer recv`, answers with
// `peer send`, and reads the answer out of the page. Keeps a screenshot in
// target/browser/widget.png. Prints each check and "N passed, N failed".
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { serve, startBrowser } from "../../wasm/tests/webdriver.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "../..");
const bin = path.join(process.env.CARGO_TARGET_DIR ?? path.join(repo, "target"), "release");
const run = promisify(execFile);
const tmp = mkdtempSync(path.join(os.tmpdir(), "hushwire-widget-"));

const checks = [];
function check(ok, what, detail = "") {
  checks.push(ok);
  console.log(`${ok ? "ok" : "not ok"} - ${what}${ok || detail === "" ? "" : `\n  ${detail}`}`);
  return ok;
}

/** Starts the relay; resolves to its TCP and WebSocket addresses once it printed them. */
function startRelay() {
  const relay = spawn(path.join(bin, "relay"), [
    "--insecure", "--quiet", "--listen", "127.0.0.1:0", "--websocket", "127.0.0.1:0",
    "--data", path.join(tmp, "relay"),
  ], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    const found = {};
    const timer = setTimeout(() => reject(new Error("the relay did not start")), 20_000);
    relay.on("exit", (code) => reject(new Error(`the relay exited (${code})`)));
    readline.createInterface({ input: relay.stdout }).on("line", (line) => {
      const tcp = line.match(/^relay listening on (\S+)/);
      const ws = line.match(/websocket:\s+(ws:\/\/\S+)/);
      if (tcp) found.tcp = tcp[1];
      if (ws) found.ws = ws[1];
      if (found.tcp && found.ws) {
        clearTimeout(timer);
        resolve({ process: relay, ...found });
      }
    });
  });
}

const relay = await startRelay();
const peer = (...args) =>
  run(path.join(bin, "peer"), ["--insecure", "--relay", relay.tcp, "--state", path.join(tmp, "operator"), ...args],
    { timeout: 60_000 });
const server = await serve({ "/": here, "/pkg/": path.join(repo, "target/wasm-pkg/web") });
let browser;
try {
  await peer("init", "operator");
  await peer("register");
  check(true, `relay on ${relay.tcp} (WebSocket ${relay.ws}), operator registered`);

  browser = await startBrowser();
  const page = `${server.url}/index.html?relay=${encodeURIComponent(relay.ws)}&operator=operator&name=visitor1`;
  await browser.navigate(page);
  const state = await browser.waitFor(
    "const w = window.__widget; return w && (w.ready || w.error) ? w : null;", 60_000);
  check(state.ready && !state.error, "the widget signed in over WebSocket and opened a session", state.error ?? "");

  const typed = "Hi, my card 4242 4242 4242 4242 was charged twice";
  await browser.execute(`document.getElementById("text").value = arguments[0];
    document.getElementById("button").click();`, [typed]);
  const sent = await browser.waitFor("return window.__widget.sent[0] ?? null;", 30_000);
  check(sent === "Hi, my card •••• •••• •••• 4242 was charged twice", "the widget masked the card number before sending", sent);

  const { stdout: received } = await peer("recv", "--wait", "3");
  check(received.includes("•••• •••• •••• 4242 was charged twice"), "the operator's CLI read the visitor's message", received);
  check(!received.includes("4242 4242 4242 4242"), "the operator never saw the card number");

  const reply = "Sorry about that: the second charge is refunded.";
  await peer("send", "visitor1", reply);
  const got = await browser.waitFor("return window.__widget.received[0] ?? null;", 30_000);
  check(got === reply, "the page shows the operator's reply", got);
  const shown = await browser.execute(`return document.getElementById("log").innerText;`);
  check(shown.includes(`operator: ${reply}`), "the reply is on screen, from the operator", shown);

  await browser.screenshot(path.join(repo, "target/browser/widget.png"));
  console.log("screenshot: target/browser/widget.png");
} catch (e) {
  check(false, "end-to-end run", e.stack ?? `${e}`);
} finally {
  if (browser) await browser.quit();
  server.close();
  relay.process.kill("SIGINT");
  rmSync(tmp, { recursive: true, force: true });
}
const failed = checks.filter((ok) => !ok).length;
console.log(`${checks.length - failed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
