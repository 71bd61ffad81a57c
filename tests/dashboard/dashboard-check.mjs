// Opens a relay's dashboard in Debian's Chromium (playwright-core, headless) and follows two peers:
//   node dashboard-check.mjs <dashboard url> <mesh> <staying peer> <leaving peer>
// Prints "visible" once both peers show in the mesh, then waits for the leaving peer (the caller disconnects it on
// that line) to vanish from the mesh and to show among the recent disconnects, and prints "gone". Any page error,
// failed wait (each bounded) or the overall deadline exits non-zero with the reason on stderr.
import { chromium } from "playwright-core";

const [url, mesh, staying, leaving] = process.argv.slice(2);
if (!leaving) {
  console.error("usage: node dashboard-check.mjs <url> <mesh> <staying peer> <leaving peer>");
  process.exit(2);
}
const waitMs = Number(process.env.DASHBOARD_WAIT_MS ?? 30000);
const deadline = setTimeout(() => { console.error("deadline: the check took too long"); process.exit(3); }, 4 * waitMs);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox"],
  timeout: waitMs,
});
let failure = null;
try {
  const page = await browser.newPage();
  const problems = [];
  page.on("pageerror", error => problems.push("page error: " + error.message));
  page.on("console", message => { if (message.type() === "error") problems.push("console error: " + message.text()); });

  await page.goto(url, { timeout: waitMs });
  // Attribute values are quoted with CSS.escape-free selectors: the test's ids are plain [a-z0-9-].
  const inMesh = id => `[data-mesh="${mesh}"] [data-peer="${id}"]`;
  await page.waitForSelector(inMesh(staying), { timeout: waitMs });
  await page.waitForSelector(inMesh(leaving), { timeout: waitMs });
  const shown = await page.textContent(inMesh(staying));
  if (!shown.includes(staying)) throw new Error("the peer row does not show its id: " + shown);
  console.log("visible");

  await page.waitForSelector(inMesh(leaving), { state: "detached", timeout: waitMs });
  await page.waitForSelector(`[data-disconnect="${leaving}"]`, { timeout: waitMs });
  if (await page.$(inMesh(staying)) === null) throw new Error("the staying peer vanished too");
  if (problems.length > 0) throw new Error(problems.join("\n"));
  console.log("gone");
} catch (error) {
  failure = error;
} finally {
  await browser.close();
  clearTimeout(deadline);
}
if (failure) {
  console.error(String(failure?.stack ?? failure));
  process.exit(1);
}
