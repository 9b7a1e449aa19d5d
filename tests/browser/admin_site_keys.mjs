// The admin page's site unlock keys in headless Chromium, framed by a page of the site as
// Confluence frames it. Run by tests/api/browser.rs with one JSON argument:
//   { hostPage, adminUrl, origin, siteOrigin, privateJwk, jwk }
// refuses the pasted private JWK without sending it, warns of lower-case space keys (personal
// spaces, `~…`, aside) and stops once they are upper case, adds the public one limited to two spaces,
// generates an HS256 key (its secret and minting snippet shown once, with Copy), reloads, and
// removes the public key; prints one JSON line with what the browser showed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const config = JSON.parse(process.argv[2]);

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'pageshare-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1000, height: 800 },
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
context.setDefaultTimeout(15000);

const problems = [];
// Every key the page sent to the server.
const sent = [];

async function openFramed(page, url) {
  await page.goto(`${config.hostPage}?src=${encodeURIComponent(url)}`);
  const handle = await page.waitForSelector('iframe[name=app]');
  const frame = await handle.contentFrame();
  await frame.waitForLoadState();
  return frame;
}

async function run(page) {
  const result = {};
  for (const origin of [config.origin, config.siteOrigin]) {
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
  }
  const admin = await openFramed(page, config.adminUrl);
  const count = admin.locator('[data-role=site-key-count]');
  await count.filter({ hasText: 'This site has no site unlock keys.' }).waitFor();
  const rows = admin.locator('[data-role=site-key-rows] tr');

  await admin.getByLabel('Public key (JWK)').fill(JSON.stringify(config.privateJwk));
  await admin.getByRole('button', { name: 'Add key' }).click();
  const error = admin.locator('[data-role=site-key-error]');
  await error.waitFor();
  result.privateRefused = await error.textContent();

  await admin.getByLabel('Public key (JWK)').fill(JSON.stringify(config.jwk));
  const spaceWarning = admin.locator('[data-role=site-key-space-warning]');
  result.warningHiddenAtFirst = await spaceWarning.isHidden();
  await admin.getByLabel('Spaces (optional)').fill('eng, OPS, ~557058abc, Hr');
  await spaceWarning.waitFor();
  result.lowerCaseWarning = await spaceWarning.textContent();
  await admin.getByLabel('Spaces (optional)').fill('ENG, OPS');
  await spaceWarning.waitFor({ state: 'hidden' });
  result.warningHiddenWhenUpperCase = true;
  await admin.getByRole('button', { name: 'Add key' }).click();
  await count.filter({ hasText: '1 site unlock key.' }).waitFor();
  result.errorHiddenAfterAdd = await error.isHidden();
  result.publicRow = await rows.first().locator('td').allTextContents();

  await admin.getByRole('button', { name: 'Generate HS256 key' }).click();
  await count.filter({ hasText: '2 site unlock keys.' }).waitFor();
  const secret = admin.getByLabel('New HS256 secret (hex)');
  result.secret = await secret.inputValue();
  result.snippet = await admin.getByLabel('Minting an unlock link with this key (Node.js)').inputValue();
  result.generatedRow = await rows.nth(1).locator('td').allTextContents();
  await admin.getByRole('button', { name: 'Copy secret' }).click();
  await admin.getByRole('button', { name: 'Copied' }).waitFor();
  result.copied = await admin.evaluate(() => navigator.clipboard.readText());

  const again = await openFramed(page, config.adminUrl);
  const rowsAgain = again.locator('[data-role=site-key-rows] tr');
  await again.locator('[data-role=site-key-count]', { hasText: '2 site unlock keys.' }).waitFor();
  result.rowsAfterReload = await rowsAgain.count();
  result.secretInPageAfterReload = (await again.content()).includes(result.secret);
  result.secretShownAfterReload = await again.locator('[data-role=new-site-key]').isVisible();

  const kid = result.publicRow[0];
  await again.getByRole('button', { name: `Remove the site unlock key ${kid}` }).click();
  await again.getByRole('button', { name: 'Remove key' }).click();
  await again.locator('[data-role=progress]', { hasText: `site unlock key ${kid} is removed` }).waitFor();
  result.rowsAfterRemove = await rowsAgain.count();
  result.remainingAlg = await rowsAgain.first().locator('[data-field=alg]').textContent();
  return result;
}

let result;
try {
  const page = context.pages()[0] || (await context.newPage());
  page.on('console', (message) => {
    if (message.type() === 'error' && !(message.location().url || '').endsWith('/favicon.ico')) {
      problems.push(`${message.text()} (${message.location().url})`);
    }
  });
  page.on('pageerror', (error) => problems.push(String(error)));
  page.on('request', (request) => {
    if (request.method() === 'POST' && request.url().includes('/api/admin/unlock-keys')) {
      sent.push(request.postData() || '');
    }
  });
  result = await run(page);
  result.sent = sent;
  result.problems = problems;
} finally {
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(result));
