// The Forge Custom UI pages (share panel, admin page) in headless Chromium, served by the
// simulated Forge host with its stand-in for the script Forge injects (`__bridge`) and either
// the app's own bundle of @forge/bridge or the sandbox's stand-in for it. Run by
// tests/api/forge_app.rs with one JSON argument:
//   { panelUrl, adminUrl, password, screenshot, full }
// Opens the panel (its page comes from view.getContext), creates a link, sends a wrong
// embedding site (the server's words must show), sets a password, shows the unlock secret;
// with `full`, then reads the admin page's audit log and revokes the link there. Prints one
// JSON line of what it saw.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const config = JSON.parse(process.argv[2]);
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'pageshare-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  viewport: { width: 640, height: 720 },
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'],
});
context.setDefaultTimeout(15000);

const problems = [];
function watch(page) {
  page.on('console', (message) => {
    const where = message.location().url || '';
    if (message.type() === 'error' && !where.endsWith('/favicon.ico')) problems.push(`${message.text()} (${where})`);
  });
  page.on('pageerror', (error) => problems.push(String(error)));
  page.on('requestfailed', (request) => problems.push(`${request.url()}: ${request.failure().errorText}`));
}

async function panel(page) {
  const result = {};
  await page.goto(config.panelUrl);
  // Loaded: the list, its empty state, or an error in words.
  await page.locator('article.share, [data-role=empty]:visible, [data-role=error]:visible').first().waitFor();
  result.pageError = await page.locator('[data-role=error]').innerText();
  result.contentId = await page.locator('[data-field=content-id]').innerText();
  result.space = await page.locator('[data-field=space]').innerText();
  result.listed = await page.locator('article.share').count();

  await page.getByRole('button', { name: 'Create link' }).click();
  await page.locator('[data-role=share-note]', { hasText: 'Link created' }).waitFor();
  result.afterCreate = await page.locator('article.share').count();
  const created = page.locator('article.share', { has: page.locator('[data-role=share-note]', { hasText: 'Link created' }) });
  result.uuid = await created.getAttribute('data-uuid');
  const share = page.locator(`article.share[data-uuid="${result.uuid}"]`);
  result.link = await share.getByLabel('Link').inputValue();

  await share.getByLabel('Sites that may embed it').fill('http://docs.example.com');
  await share.getByRole('button', { name: 'Save sites' }).click();
  const error = share.locator('[data-role=share-error]');
  await error.waitFor();
  result.originsError = await error.innerText();

  await share.getByLabel('Password', { exact: true }).fill(config.password);
  await share.getByRole('button', { name: 'Set password' }).click();
  await share.locator('[data-role=share-note]', { hasText: 'Password set' }).waitFor();
  result.passwordShown = await share.locator('[data-field=password]').innerText();

  await share.getByRole('button', { name: 'Show' }).click();
  await page.waitForFunction(
    (uuid) => /^[0-9a-f]{64}$/.test(document.querySelector(`[data-uuid="${uuid}"] [data-input=secret]`).value),
    result.uuid,
  );
  result.secret = await share.getByLabel('Unlock secret').inputValue();
  if (config.screenshot) await page.screenshot({ path: config.screenshot, fullPage: true });
  return result;
}

async function admin(page, uuid) {
  const result = {};
  await page.setViewportSize({ width: 1024, height: 560 });
  await page.goto(config.adminUrl);
  const row = page.locator(`[data-role=rows] tr[data-uuid="${uuid}"]`);
  await row.waitFor();
  result.adminRows = await page.locator('[data-role=rows] tr').count();
  const audit = page.locator('[data-role=audit-rows] tr');
  await audit.first().waitFor();
  result.auditNewest = await audit.first().locator('[data-field=action]').textContent();
  result.auditDownloadShown = await page.getByRole('button', { name: 'Download CSV' }).isVisible();
  await row.locator('[data-action=revoke]').click();
  await row.locator('[data-action=confirm-revoke]').click();
  await page.locator(`[data-role=rows] tr[data-uuid="${uuid}"]`).locator('[data-field=status]', { hasText: 'Revoked' }).waitFor();
  result.adminStatus = await page.locator(`[data-role=rows] tr[data-uuid="${uuid}"] [data-field=status]`).textContent();
  return result;
}

let result;
try {
  const page = context.pages()[0] || (await context.newPage());
  watch(page);
  result = await panel(page);
  if (config.full) Object.assign(result, await admin(page, result.uuid));
  // invokeRemote answers a 422 inside its own 200, so even the refused site is no console error.
  result.problems = problems;
} finally {
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(result));
