// A burst in a real Chromium, beside the lab's model of it: a page loads the counter, then
// its script fires N fetches of it in one turn, then the page is loaded again. Prints what
// each fetch's answer said and the count before and after, as JSON.
// Usage: node chromium-burst.js SERVER_URL N (bench/tools/chromium-burst.sh starts the server).
const { chromium } = require('playwright-core');

const [server, n] = [process.argv[2], Number(process.argv[3] || 20)];
const views = (text) => Number((text.match(/(\d+)\D*$/) || [])[1]);

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run'],
  });
  const page = await (await browser.newContext()).newPage();
  await page.goto(server);
  const before = views(await page.innerText('body'));
  // One turn of the page's script: every fetch starts before any answer is handled.
  const answers = await page.evaluate(async (n) => {
    const all = [];
    for (let i = 0; i < n; i++) all.push(fetch('/').then((r) => r.text()));
    return Promise.all(all);
  }, n);
  await page.goto(server);
  const after = views(await page.innerText('body'));
  const seen = {};
  for (const a of answers.map(views)) seen[a] = (seen[a] || 0) + 1;
  console.log(JSON.stringify({ sent: n, before, answers: seen, after, lost: n - (after - before - 1) }));
  await browser.close();
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
