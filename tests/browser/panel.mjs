// The share panel and the admin page in headless Chromium, opened the way Confluence opens them
// (a computed-qsh `?jwt=` URL), with all.js answered by the simulated host's stand-in. Run by
// tests/api/browser.rs with one JSON argument:
// Each app page is opened inside a page of the site (hostPage, on the site's origin) that frames
// it, as Confluence does, so the app's frame-ancestors and the iframe context are exercised.
//   { phase: "edit", hostPage, panelUrl, origin, siteOrigin, password, screenshot }
//     creates a share, edits its embedding sites (a wrong one first) and expiry, sets its
//     password, shows, copies and changes its unlock secret (with a 24-hour overlap, then at once),
//     refuses a private JWK without sending it, adds two public unlock keys and removes one;
//   { phase: "revoke", hostPage, panelUrl, adminUrl, outsiderAdminUrl, screenshot }
//     opens the panel again and revokes the share, then the admin page as an admin (who also
//     sets the site's default embedding sites, with the keyboard, creates and revokes an API
//     key, and reads the audit log a page at a time and as CSV) and not;
//   { phase: "readership", hostPage, panelUrl, adminUrl, screenshot }
//     opens the panel's last 30 days of a share that was read, then the admin page's views;
// and prints one JSON line with what the browser showed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const config = JSON.parse(process.argv[2]);
const TIMEOUT = 15000;

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'pageshare-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  // The size of the inline dialog Confluence opens the share panel in (the admin page is wider).
  viewport: { width: 480, height: 560 },
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
context.setDefaultTimeout(TIMEOUT);

// Every console error, failed script and CSP violation of the pages (the browser's own
// favicon request aside).
const problems = [];
function watch(page) {
  page.on('console', (message) => {
    const where = message.location().url || '';
    if (message.type() === 'error' && !where.endsWith('/favicon.ico')) {
      problems.push(`${message.text()} (${where})`);
    }
  });
  page.on('pageerror', (error) => problems.push(String(error)));
}

const card = (page) => page.locator('article.share').first();

async function waitForNote(share, text) {
  await share.locator('[data-role=share-note]', { hasText: text }).waitFor();
}

// Open the app page `url` framed by the site's page; the app's frame.
async function openFramed(page, url) {
  await page.goto(`${config.hostPage}?src=${encodeURIComponent(url)}`);
  const handle = await page.waitForSelector('iframe[name=app]');
  const frame = await handle.contentFrame();
  await frame.waitForLoadState();
  return frame;
}

async function edit(page) {
  const result = {};
  for (const origin of [config.origin, config.siteOrigin]) {
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
  }
  const app = await openFramed(page, config.panelUrl);
  result.framedUrl = app.url();
  await app.locator('[data-role=empty]').waitFor();

  if (config.includeChildren) {
    await app.getByLabel('Include the pages below this one').check();
  }
  await app.getByRole('button', { name: 'Create link' }).click();
  const share = card(app);
  await waitForNote(share, 'Link created');
  result.uuid = await share.getAttribute('data-uuid');
  result.link = await share.getByLabel('Link').inputValue();
  result.pagesShown = await share.locator('[data-field=pages]').innerText();

  await share.getByLabel('Password', { exact: true }).fill(config.password);
  await share.getByRole('button', { name: 'Set password' }).click();
  await waitForNote(share, 'Password set');
  result.passwordShown = await share.locator('[data-field=password]').innerText();

  const origins = share.getByLabel('Sites that may embed it');
  await origins.fill('http://docs.example.com');
  await share.getByRole('button', { name: 'Save sites' }).click();
  const error = share.locator('[data-role=share-error]');
  await error.waitFor();
  result.originsError = await error.innerText();
  await origins.fill('https://docs.example.com');
  await share.getByRole('button', { name: 'Save sites' }).click();
  await waitForNote(share, 'Embedding sites saved');
  result.originsShown = await share.locator('[data-field=origins]').innerText();

  await share.getByLabel('Expires').fill('2099-01-02T10:30');
  await share.getByRole('button', { name: 'Save expiry' }).click();
  await waitForNote(share, 'Expiry saved');
  result.expiryShown = await share.locator('[data-field=expiry]').innerText();
  await share.getByRole('button', { name: 'Never expire' }).click();
  await waitForNote(share, 'no longer expires');
  result.expiryCleared = await share.locator('[data-field=expiry]').innerText();

  const secret = share.getByLabel('Unlock secret');
  result.secretBeforeAsking = await secret.inputValue();
  await share.getByRole('button', { name: 'Show' }).click();
  await app.waitForFunction(
    () => /^[0-9a-f]{64}$/.test(document.querySelector('[data-input=secret]').value),
  );
  result.oldSecret = await secret.inputValue();

  await share.locator('[data-action=copy-secret]').click();
  await share.locator('[data-action=copy-secret]', { hasText: 'Copied' }).waitFor();
  result.clipboard = await app.evaluate(() => navigator.clipboard.readText());

  // First with an overlap: the old secret keeps working for a day, and the card says until when.
  await share.getByRole('button', { name: 'Change', exact: true }).click();
  result.confirmation = await share.locator('[data-role=confirm-secret]').innerText();
  await share.getByRole('button', { name: 'Change, keep the old one working for 24 hours' }).click();
  await waitForNote(share, 'keep working until');
  result.overlapSecret = await secret.inputValue();
  result.overlapShown = await share.locator('[data-field=previous-secret]').innerText();
  // Then at once: no previous secret any more.
  await share.getByRole('button', { name: 'Change', exact: true }).click();
  await share.getByRole('button', { name: 'Change now' }).click();
  await waitForNote(share, 'no longer work');
  result.newSecret = await secret.inputValue();
  result.overlapShownAfterChangeNow = await share.locator('[data-field=previous-secret]').isVisible();

  await share.locator('[data-role=snippets] > summary').click();
  result.snippets = {};
  for (const name of ['shell', 'node', 'python']) {
    result.snippets[name] = await share.locator(`[data-snippet=${name}] code`).innerText();
  }

  // Public unlock keys: a private JWK is refused (and not sent), a public one added, another added
  // and removed.
  result.keysSent = [];
  page.on('request', (request) => {
    if (request.method() === 'POST' && request.url().includes('/unlock-keys')) {
      result.keysSent.push(request.postData() || '');
    }
  });
  await share.locator('[data-role=unlock-keys] > summary').click();
  await share.locator('[data-role=keys-empty]').waitFor();
  const jwk = share.getByLabel('Public key (JWK)');
  await jwk.fill(JSON.stringify(config.privateJwk));
  await share.getByRole('button', { name: 'Add key' }).click();
  await error.waitFor();
  result.privateKeyError = await error.innerText();
  for (const key of [config.jwk, config.otherJwk]) {
    await jwk.fill(JSON.stringify(key, null, 2));
    await share.getByRole('button', { name: 'Add key' }).click();
    await waitForNote(share, `(${key.alg || 'EdDSA'}) added`);
  }
  const keyRows = share.locator('[data-role=keys] li');
  await keyRows.nth(1).waitFor();
  result.keysListed = await keyRows.allInnerTexts();
  const second = await keyRows.nth(1).locator('code').innerText();
  await share.getByRole('button', { name: `Remove the unlock key ${second}` }).click();
  await waitForNote(share, 'removed');
  await share.locator('[data-role=keys] li').nth(1).waitFor({ state: 'detached' });
  result.keysAfterRemove = await share.locator('[data-role=keys] li code').allInnerTexts();
  result.keySnippets = {};
  for (const name of ['shell', 'node', 'python']) {
    result.keySnippets[name] = await share.locator(`[data-key-snippet=${name}] code`).innerText();
  }
  await share.locator('[data-key-snippet=node] [data-action=copy-snippet]').click();
  result.snippetClipboard = await app.evaluate(() => navigator.clipboard.readText());
  if (config.screenshot) await page.screenshot({ path: config.screenshot, fullPage: true });
  return result;
}

async function revoke(page) {
  const result = {};
  const panel = await openFramed(page, config.panelUrl);
  const share = card(panel);
  await share.waitFor();
  result.passwordShown = await share.locator('[data-field=password]').innerText();
  result.secretBeforeAsking = await share.getByLabel('Unlock secret').inputValue();
  await share.locator('[data-role=manage] > summary').click();
  await share.getByRole('button', { name: 'Revoke link' }).click();
  await share.getByRole('button', { name: 'Revoke', exact: true }).click();
  await waitForNote(panel.locator('article.share').first(), 'Link revoked');
  result.status = await card(panel).locator('[data-field=status]').textContent();
  if (config.screenshot) await page.screenshot({ path: config.screenshot, fullPage: true });

  await page.setViewportSize({ width: 1024, height: 560 });
  const admin = await openFramed(page, config.adminUrl);
  // The list comes from the server a page at a time; each change of the filters asks again.
  const adminCount = (text) => admin.locator('[data-role=count]', { hasText: text }).waitFor();
  const adminRowCount = () => admin.locator('[data-role=rows] tr').count();
  await adminCount(/more follow/);
  result.adminRows = await adminRowCount();
  result.adminStatus = await admin.locator('[data-role=rows] [data-field=status]').first().textContent();
  await admin.getByRole('button', { name: 'Load more links' }).click();
  await adminCount(/^51 links shown\.$/);
  result.adminRowsAfterMore = await adminRowCount();
  result.adminMoreHidden = await admin.getByRole('button', { name: 'Load more links' }).isHidden();
  await admin.getByLabel('Status').selectOption('active');
  await adminCount('No link matches these filters.');
  result.adminActiveRows = await adminRowCount();
  await admin.getByLabel('Status').selectOption('');
  await adminCount(/more follow/);
  await admin.getByLabel('Search').fill('Archived guide 7');
  await adminCount(/^1 link shown\.$/);
  result.adminSearchTitle = await admin.locator('[data-role=rows] [data-field=title]').textContent();
  await admin.getByLabel('Search').fill('no page is called this');
  await adminCount('No link matches these filters.');
  result.adminSearchRows = await adminRowCount();
  await admin.getByLabel('Search').fill('');
  await adminCount(/more follow/);

  const defaults = admin.getByLabel('Sites that may embed shared pages');
  await admin.locator('#default-origins:enabled').waitFor();
  result.defaultsBefore = await defaults.inputValue();
  await defaults.fill(config.defaultOrigins.join('\n'));
  await defaults.press('Tab');
  await page.keyboard.press('Enter');
  await admin.locator('[data-role=defaults-note]', { hasText: 'saved' }).waitFor();
  result.defaultsShown = await defaults.inputValue();

  // An API key: created, shown once with Copy, listed without itself, revoked.
  result.keyRowsBefore = await admin.locator('[data-role=key-rows] tr').count();
  await admin.getByLabel('Key name').fill('Deploy bot');
  await admin.getByLabel('Create, change and revoke links (shares:write)').check();
  await admin.getByLabel('See the unlock secrets of the links it reads or changes (unlock-secrets:read)').check();
  await admin.getByLabel('Rotate unlock secrets, receiving the new one (unlock-secrets:rotate)').check();
  // Chosen and then given up: not in the key.
  await admin.getByLabel('Read links (shares:read)').uncheck();
  await admin.getByLabel('Read links (shares:read)').check();
  await admin.getByLabel('Rotate unlock secrets, receiving the new one (unlock-secrets:rotate)').uncheck();
  await admin.getByRole('button', { name: 'Create key' }).click();
  const shown = admin.getByLabel('New API key');
  await shown.waitFor();
  result.newKey = await shown.inputValue();
  await admin.getByRole('button', { name: 'Copy', exact: true }).click();
  await admin.getByRole('button', { name: 'Copied' }).waitFor();
  result.keyRowsAfterCreate = await admin.locator('[data-role=key-rows] tr').count();
  result.keyScopes = await admin.locator('[data-role=key-rows] [data-field=scopes]').first().textContent();
  if (config.adminScreenshot) {
    await page.screenshot({ path: config.adminScreenshot, fullPage: true });
  }
  const again = await openFramed(page, config.adminUrl);
  await again.locator('[data-role=key-rows] tr').first().waitFor();
  result.keyRowsAfterReload = await again.locator('[data-role=key-rows] tr').count();
  result.keyInPageAfterReload = (await again.content()).includes(result.newKey);
  result.keyNewShownAfterReload = await again.locator('[data-role=new-key]').isVisible();

  // The audit log: the newest page, then the older entries with Load more, then the CSV.
  const auditRows = again.locator('[data-role=audit-rows] tr');
  await auditRows.first().waitFor();
  result.auditFirstPage = await auditRows.count();
  result.auditNewest = await auditRows.first().locator('[data-field=action]').textContent();
  result.auditNewestActor = await auditRows.first().locator('[data-field=actor]').textContent();
  const more = again.getByRole('button', { name: 'Load more', exact: true });
  result.auditMoreShown = await more.isVisible();
  await more.click();
  await again.locator('[data-role=audit-count]', { hasText: /entries shown\.$/ }).waitFor();
  result.auditAll = await auditRows.count();
  result.auditMoreAtEnd = await more.isVisible();
  result.auditDetails = await again.locator('[data-role=audit-rows] [data-field=detail]').allTextContents();
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    again.getByRole('button', { name: 'Download CSV' }).click(),
  ]);
  result.auditCsvName = download.suggestedFilename();
  result.auditCsv = fs.readFileSync(await download.path(), 'utf8');
  await again.getByRole('button', { name: 'Revoke the API key Deploy bot' }).click();
  await again.getByRole('button', { name: 'Revoke key' }).click();
  await again.locator('[data-role=progress]', { hasText: 'API key Deploy bot is revoked' }).waitFor();
  result.keyRowsAfterRevoke = await again.locator('[data-role=key-rows] tr').count();
  result.keyCount = await again.locator('[data-role=key-count]').textContent();

  const refused = await page.goto(config.outsiderAdminUrl);
  result.outsiderStatus = refused.status();
  result.outsiderText = await page.locator('body').innerText();
  return result;
}

async function readership(page) {
  const result = {};
  const panel = await openFramed(page, config.panelUrl);
  const share = card(panel);
  await share.locator('[data-role=readership] > summary').click();
  await share.locator('[data-role=readership-totals]:visible').waitFor();
  result.views = await share.locator('[data-field=views]').textContent();
  result.readers = await share.locator('[data-field=readers]').textContent();
  result.byAccess = await share.locator('[data-field=by-access]').textContent();
  const bars = share.locator('[data-role=views-chart] rect');
  result.bars = await bars.count();
  result.chartVisible = await share.locator('[data-role=views-chart]').isVisible();
  result.lastBarViews = await bars.last().getAttribute('data-views');
  result.lastBarHeight = Number(await bars.last().getAttribute('height'));
  result.firstBarHeight = Number(await bars.first().getAttribute('height'));
  await page.screenshot({ path: config.screenshot, fullPage: true });

  const admin = await openFramed(page, config.adminUrl);
  await admin.locator('[data-role=count]', { hasText: /shown/ }).waitFor();
  result.adminViews = await admin.locator('[data-role=rows] tr').evaluateAll((rows) =>
    rows.map((row) => [
      row.querySelector('[data-field=title]').textContent,
      row.querySelector('[data-field=views]').textContent,
    ]),
  );
  return result;
}

let result;
try {
  const page = context.pages()[0] || (await context.newPage());
  watch(page);
  const phases = { edit, readership, revoke };
  result = await phases[config.phase](page);
  // Answers that are errors on purpose (the refused embedding site's 422 in "edit", the admin
  // page's 403 to a non-admin in "revoke") are counted apart, for the test to expect exactly.
  const expected = ['status of 422', 'status of 403'];
  const isExpected = (text) => expected.some((known) => text.includes(known));
  result.expectedErrors = expected.map((known) => problems.filter((text) => text.includes(known)).length);
  result.problems = problems.filter((text) => !isExpected(text));
} finally {
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(result));
