// Plays bench/tools/chromium-compare.sh's cases in Debian's Chromium through Playwright: for
// each case a fresh browser context visits the case's /set page (the address bar), then makes
// the request the case names (address bar, link click, image, auto-submitted form POST) and
// waits until the server has recorded the Cookie header it brought.
// Usage: node chromium-cases.js CASES.json SERVER_URL (the example starts it).
const { chromium } = require('playwright-core');
const fs = require('fs');
const os = require('os');
const path = require('path');

const [casesFile, server] = process.argv.slice(2);
const cases = JSON.parse(fs.readFileSync(casesFile, 'utf8'));

async function done(id) {
  for (let i = 0; i < 100; i++) {
    const res = await fetch(`${server}/done?case=${id}&side=chromium`);
    if ((await res.text()) === 'yes') return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

(async () => {
  // A normal window's profile, fresh per case: Playwright's default contexts are like
  // incognito windows, which block third-party cookies (SameSite=None on a cross-site image).
  const args = [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    // The lab's names and localhost, like the lab's resolver: everything to this machine.
    '--host-resolver-rules=MAP * 127.0.0.1',
  ];
  let failed = 0;
  for (const c of cases) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chromium-case-'));
    // THIRD_PARTY_COOKIES=allow: a profile whose cookie setting allows third-party cookies
    // (this Chromium blocks them by default); the lab's browsers allow them.
    if (process.env.THIRD_PARTY_COOKIES === 'allow') {
      fs.mkdirSync(path.join(dir, 'Default'));
      fs.writeFileSync(path.join(dir, 'Default', 'Preferences'), JSON.stringify({
        profile: { cookie_controls_mode: 0, block_third_party_cookies: false },
      }));
    }
    const context = await chromium.launchPersistentContext(dir, {
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      args,
      ignoreHTTPSErrors: true,
    });
    const page = await context.newPage();
    try {
      await page.goto(`${c.set_on}/set?case=${c.id}&side=chromium`);
      if (c.context === 'address' || !c.page) {
        await page.goto(c.start);
      } else {
        const kind = c.context;
        await page.goto(`${c.page}/page?kind=${kind}&to=${encodeURIComponent(c.start)}`);
        if (kind === 'link') await page.click('#go');
      }
      if (!(await done(c.id))) {
        console.error(`${c.id}: Chromium never reached the echo`);
        failed++;
      }
    } catch (e) {
      console.error(`${c.id}: ${e.message.split('\n')[0]}`);
      failed++;
    }
    await context.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.error(`chromium: ${cases.length - failed} of ${cases.length} cases played`);
  process.exit(failed ? 1 : 0);
})();
