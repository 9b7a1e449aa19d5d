// A customer's site embeds a password-protected share in an iframe and unlocks it with
// `?unlock=`, in headless Chromium. Run by tests/api/browser.rs, which passes one JSON argument:
//   { unlockUrl, shareUrl, blockThirdPartyCookies, screenshot, unlistedUrl?, frameWidth?, navigate? }
// (unlistedUrl: a share whose embedding sites do not include the customer's, framed beside it;
// frameWidth: the share's iframe width, 900 unless given; navigate: for a tree share, links to
// click one after the other inside the frame, [{ link, in: 'tree' | 'content' }])
// and reads one JSON line from stdout with what the browser showed.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const config = JSON.parse(process.argv[2]);

// Two more origins on loopback: the customer's site (127.0.0.2) and a third-party probe
// (127.0.0.3) that tells whether this browser keeps an ordinary third-party cookie.
function listen(host, handler) {
  return new Promise((resolve) => {
    const server = http.createServer(handler);
    server.listen(0, host, () => resolve(server));
  });
}

const probe = await listen('127.0.0.3', (req, res) => {
  const sent = /(^|;\s*)probe=1/.test(req.headers.cookie || '');
  res.setHeader('Set-Cookie', 'probe=1; Path=/; SameSite=None; Secure');
  res.setHeader('Content-Type', 'text/html');
  res.end(`<p id="result">${sent ? 'cookie:yes' : 'cookie:no'}</p>`);
});
const probeUrl = `http://127.0.0.3:${probe.address().port}/probe`;

const site = await listen('127.0.0.2', (req, res) => {
  res.setHeader('Content-Type', 'text/html');
  res.end(`<!doctype html><title>Customer guide</title>
<h1>Our user guide</h1>
<iframe id="share" src="${config.unlockUrl}" width="${config.frameWidth || 900}" height="700"></iframe>
<iframe id="probe" src="${probeUrl}" width="200" height="60"></iframe>
${config.unlistedUrl ? `<iframe id="unlisted" src="${config.unlistedUrl}" width="300" height="100"></iframe>` : ''}`);
});
const siteUrl = `http://127.0.0.2:${site.address().port}/guide`;

// A fresh profile whose cookie setting says, explicitly, whether third-party cookies are
// blocked (Chromium's own default differs between builds and for off-the-record contexts).
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'pageshare-chromium-'));
fs.mkdirSync(path.join(profile, 'Default'));
fs.writeFileSync(
  path.join(profile, 'Default', 'Preferences'),
  JSON.stringify({
    profile: {
      cookie_controls_mode: config.blockThirdPartyCookies ? 1 : 0,
      block_third_party_cookies: Boolean(config.blockThirdPartyCookies),
    },
  }),
);
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});

const result = {};
try {
  const page = context.pages()[0] || (await context.newPage());
  const consoleErrors = [];
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  await page.goto(siteUrl);

  const share = page.frameLocator('#share');
  const heading = share.locator('h1.page-title');
  await heading.waitFor({ timeout: 15000 }).catch(() => {});
  result.title = (await heading.count()) ? await heading.innerText() : null;
  result.passwordForm = (await share.locator('input[name=password]').count()) > 0;
  const image = share.locator('.page-body img').first();
  if (await image.count()) {
    await image.evaluate((img) => img.decode().catch(() => {}));
    result.imageLoaded = await image.evaluate((img) => img.complete && img.naturalWidth > 0);
  } else {
    result.imageLoaded = false;
  }
  if (config.unlistedUrl) {
    // Chromium refuses the frame and says so on the embedding page's console.
    const refusal = (text) => text.includes('frame-ancestors https://docs.example.com');
    for (let i = 0; i < 50 && !consoleErrors.some(refusal); i += 1) {
      await page.waitForTimeout(100);
    }
    result.unlistedRefused = consoleErrors.some(refusal);
    result.consoleErrors = consoleErrors;
    result.unlistedShown = (await page.frameLocator('#unlisted').locator('h1.page-title').count()) > 0;
  }
  if (config.navigate) {
    // What the reader sees of each page, as they click through the tree inside the frame.
    const seenPage = async () => {
      const frame = share;
      const image = frame.locator('.page-body img').first();
      let imageLoaded = null;
      if (await image.count()) {
        await image.evaluate((img) => img.decode().catch(() => {}));
        imageLoaded = await image.evaluate((img) => img.complete && img.naturalWidth > 0);
      }
      const tree = frame.locator('nav.tree');
      const hasTree = (await tree.count()) > 0;
      return {
        title: (await frame.locator('h1.page-title').count()) ? await heading.innerText() : null,
        current: hasTree ? await tree.locator('[aria-current=page]').innerText() : null,
        passwordForm: (await frame.locator('input[name=password]').count()) > 0,
        imageLoaded,
        // Usable in a narrow frame: the tree is on screen and nothing scrolls sideways.
        treeVisible: hasTree && (await tree.isVisible()),
        fitsWidth: await frame.locator('html').evaluate(
          (html) => html.scrollWidth <= html.clientWidth,
        ),
      };
    };
    result.visited = [await seenPage()];
    for (const step of config.navigate) {
      const where = share.locator(step.in === 'content' ? '.page-body' : 'nav.tree');
      const before = await share.locator('h1.page-title').innerText().catch(() => null);
      await where.getByRole('link', { name: step.link, exact: true }).click();
      await share
        .locator('h1.page-title', { hasNotText: before || '' })
        .waitFor({ timeout: 10000 })
        .catch(() => {});
      result.visited.push({ clicked: step.link, ...(await seenPage()) });
    }
  }
  if (config.screenshot) {
    await page.screenshot({ path: config.screenshot, fullPage: true });
  }

  // Load the probe again: was its third-party cookie kept?
  const probeFrame = await (await page.$('#probe')).contentFrame();
  await probeFrame.goto(`${probeUrl}?again=1`);
  result.thirdPartyCookieKept = (await probeFrame.locator('#result').innerText()) === 'cookie:yes';

  // Open the share again without the token: does the share cookie keep the reader in?
  const shareFrame = await (await page.$('#share')).contentFrame();
  await shareFrame.goto(config.shareUrl);
  result.reopenedWithoutToken = (await shareFrame.locator('h1.page-title').count()) > 0;
} finally {
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
  site.close();
  probe.close();
}
console.log(JSON.stringify(result));
