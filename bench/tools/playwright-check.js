// Opens Session Lab's exports in the tools they are made for (see export-roundtrip.sh):
//   node playwright-check.js state DIR URL   — Playwright loads DIR/A/storageState.json and
//                                              continues A's session on URL (prints the page)
//   node playwright-check.js har DIR URL     — with the server stopped, Playwright replays
//                                              DIR/A/history.har; har-validator checks it
const { chromium } = require('playwright-core');
const fs = require('fs');
const [phase, dir, url] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
(async () => {
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  if (phase === 'state') {
    const context = await browser.newContext({ storageState: `${dir}/A/storageState.json` });
    const page = await context.newPage();
    await page.goto(url);
    console.log(await page.innerText('body'));
    const [cookie] = await context.cookies();
    console.log(`cookie ${cookie.name}: httpOnly ${cookie.httpOnly}, sameSite ${cookie.sameSite}, expires ${cookie.expires}`);
  } else {
    const har = `${dir}/A/history.har`;
    const context = await browser.newContext();
    await context.routeFromHAR(har, { url: '**/*', notFound: 'abort' });
    const page = await context.newPage();
    await page.goto(url);
    console.log(`replayed from the HAR: ${await page.innerText('body')}`);
    await require('har-validator').har(JSON.parse(fs.readFileSync(har, 'utf8')));
    console.log('har-validator: valid HAR 1.2');
  }
  await browser.close();
})().catch((e) => { console.error(e.message); process.exit(1); });
