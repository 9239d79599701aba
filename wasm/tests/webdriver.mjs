// Just enough to test pages in headless Chromium from Node, with nothing to install from npm:
// a static file server on loopback, and the W3C WebDriver protocol spoken to the
// distribution's chromedriver over HTTP (Node's fetch).
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript",
  ".mjs": "text/javascript",
  ".wasm": "application/wasm",
  ".css": "text/css",
  ".json": "application/json",
  ".ts": "text/plain",
  ".png": "image/png",
};

/** Serves `mounts` ({ "/url/prefix/": "/directory" }) on 127.0.0.1; resolves to
 *  { url, close }. Only files under a mounted directory are served. */
export async function serve(mounts) {
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, "http://localhost");
    let pathname = decodeURIComponent(url.pathname);
    if (pathname.endsWith("/")) pathname += "index.html";
    const prefix = Object.keys(mounts)
      .filter((p) => pathname.startsWith(p))
      .sort((a, b) => b.length - a.length)[0];
    if (prefix !== undefined) {
      const root = path.resolve(mounts[prefix]);
      const file = path.resolve(root, "." + pathname.slice(prefix.length - 1));
      if (file.startsWith(root + path.sep)) {
        try {
          const body = await readFile(file);
          res.writeHead(200, {
            "content-type": TYPES[path.extname(file)] ?? "application/octet-stream",
            "cache-control": "no-store",
          });
          res.end(body);
          return;
        } catch {
          // fall through to 404
        }
      }
    }
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("not found");
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return { url: `http://127.0.0.1:${port}`, close: () => server.close() };
}

async function freePort() {
  const probe = net.createServer();
  await new Promise((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts chromedriver and a headless Chromium session with a fresh profile. */
export async function startBrowser({
  chromium = process.env.CHROMIUM ?? "/usr/bin/chromium",
  chromedriver = process.env.CHROMEDRIVER ?? "chromedriver",
} = {}) {
  const port = await freePort();
  const driver = spawn(chromedriver, [`--port=${port}`], { stdio: ["ignore", "ignore", "inherit"] });
  const base = `http://127.0.0.1:${port}`;
  const profile = mkdtempSync(path.join(os.tmpdir(), "hushwire-chromium-"));
  let ready = false;
  for (let i = 0; i < 100 && !ready; i++) {
    try {
      ready = (await (await fetch(`${base}/status`)).json()).value.ready;
    } catch {
      await sleep(100);
    }
  }
  if (!ready) {
    driver.kill();
    throw new Error(`chromedriver did not start on port ${port}`);
  }
  const call = async (method, route, body) => {
    const res = await fetch(`${base}${route}`, {
      method,
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json();
    if (!res.ok) throw new Error(`WebDriver ${method} ${route}: ${JSON.stringify(json.value)}`);
    return json.value;
  };
  const args = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=900,700", `--user-data-dir=${profile}`,
  ];
  let session;
  try {
    session = await call("POST", "/session", {
      capabilities: { alwaysMatch: { browserName: "chrome", "goog:chromeOptions": { binary: chromium, args } } },
    });
  } catch (e) {
    driver.kill();
    rmSync(profile, { recursive: true, force: true });
    throw e;
  }
  const id = session.sessionId;
  return {
    version: session.capabilities.browserVersion,
    navigate: (url) => call("POST", `/session/${id}/url`, { url }),
    /** Runs `script` (a function body) in the page; returns its result. */
    execute: (script, args = []) => call("POST", `/session/${id}/execute/sync`, { script, args }),
    /** Polls `script` until it returns something other than null/undefined. */
    async waitFor(script, timeoutMs = 60_000) {
      const until = Date.now() + timeoutMs;
      while (Date.now() < until) {
        const value = await call("POST", `/session/${id}/execute/sync`, { script, args: [] });
        if (value !== null && value !== undefined) return value;
        await sleep(100);
      }
      throw new Error(`timed out after ${timeoutMs} ms waiting for: ${script}`);
    },
    async screenshot(file) {
      const png = Buffer.from(await call("GET", `/session/${id}/screenshot`), "base64");
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, png);
    },
    async quit() {
      try {
        await call("DELETE", `/session/${id}`);
      } finally {
        driver.kill();
        rmSync(profile, { recursive: true, force: true });
      }
    },
  };
}
