// The binding's tests in headless Chromium: serves tests/browser.html and the `web` package on
// loopback, opens it through chromedriver, prints each case and "N passed, N failed", keeps a
// screenshot (target/browser/tests.png), and exits non-zero on any failure.
import path from "node:path";
import { fileURLToPath } from "node:url";

import { serve, startBrowser } from "./webdriver.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "../..");
const server = await serve({
  "/pkg/web/": path.join(repo, "target/wasm-pkg/web"),
  "/tests/": here,
});
let failed = 1;
const browser = await startBrowser();
try {
  console.log(`chromium ${browser.version}`);
  await browser.navigate(`${server.url}/tests/browser.html`);
  const report = await browser.waitFor("return window.__report ?? null;");
  for (const r of report.results) {
    console.log(r.ok ? `ok - ${r.name}` : `not ok - ${r.name}\n${r.error}`);
  }
  if (report.identityMs !== undefined) {
    console.log(`figure: visitor identity (new Account) in Chromium: ${report.identityMs.toFixed(2)} ms (median of 21)`);
  }
  await browser.screenshot(path.join(repo, "target/browser/tests.png"));
  console.log(`${report.passed} passed, ${report.failed} failed`);
  failed = report.failed;
} finally {
  await browser.quit();
  server.close();
}
process.exit(failed === 0 ? 0 : 1);
