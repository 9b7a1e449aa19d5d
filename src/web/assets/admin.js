// The site admin page: the site's external links, searched and filtered by the server a page at
// a time ("Load more"), revocable; the site's default embedding sites; its API keys (a new one
// shown once, with Copy); its site unlock keys (a public JWK pasted, or an HS256 secret generated
// and shown once, with Copy and a minting snippet); and its audit log, newest first, a page at a time, with a CSV download.
'use strict';

(() => {
  const {
    root,
    forge,
    ready,
    api,
    download,
    busy,
    showError,
    copy,
    date,
    publicJwk,
    fromLocalInput,
    origins,
    resize,
    lozenge,
  } = Pageshare;
  const rows = root.querySelector('[data-role=rows]');
  const count = root.querySelector('[data-role=count]');
  const progress = root.querySelector('[data-role=progress]');
  const pageError = root.querySelector('[data-role=error]');
  const filters = root.querySelector('[data-role=filters]');
  const template = document.getElementById('row-template');
  const defaults = root.querySelector('[data-role=defaults]');
  const defaultsField = defaults.elements.defaultFrameAncestors;
  const defaultsButton = defaults.querySelector('[type=submit]');
  const defaultsError = defaults.querySelector('[data-role=defaults-error]');
  const defaultsNote = defaults.querySelector('[data-role=defaults-note]');

  const more = root.querySelector('[data-action=more]');

  // The rows shown, and where the next page starts (null: none follows).
  let shares = [];
  let nextCursor = null;
  // Each query gets a number: an answer to an older one (the filters changed meanwhile) is dropped.
  let query = 0;

  // A row's action in two steps: `open` shows `confirm` (focusing `button`, which acts), and
  // `cancel` hides it again.
  function twoStep(open, confirm, button, cancel) {
    open.addEventListener('click', () => {
      open.hidden = true;
      confirm.hidden = false;
      button.focus();
    });
    cancel.addEventListener('click', () => {
      confirm.hidden = true;
      open.hidden = false;
      open.focus();
    });
  }

  function row(share) {
    const node = template.content.firstElementChild.cloneNode(true);
    const $ = (selector) => node.querySelector(selector);
    node.dataset.uuid = share.uuid;
    const title = $('[data-field=title]');
    title.textContent = share.title;
    title.href = share.url;
    $('[data-field=space]').textContent = `${share.spaceKey} · page ${share.contentId}`;
    $('[data-field=creator]').textContent = share.createdBy;
    $('[data-field=created]').textContent = date(share.createdAt);
    $('[data-field=expiry]').textContent = share.expiresAt ? date(share.expiresAt) : 'Never';
    $('[data-field=password]').textContent = share.passwordProtected ? 'On' : 'Off';
    $('[data-field=views]').textContent = share.viewsLast30Days.toLocaleString('en');
    lozenge($('[data-field=status]'), share.status);
    const revoke = $('[data-action=revoke]');
    const confirm = $('[data-role=confirm]');
    if (share.status === 'revoked') {
      revoke.remove();
      confirm.remove();
      return node;
    }
    revoke.setAttribute('aria-label', `Revoke the link to ${share.title}`);
    const button = confirm.querySelector('[data-action=confirm-revoke]');
    twoStep(revoke, confirm, button, confirm.querySelector('[data-action=cancel-revoke]'));
    button.addEventListener('click', async () => {
      const done = await busy(button, 'Revoking…', pageError, () =>
        api('DELETE', `/api/shares/${share.uuid}`).then(() => true),
      );
      if (done) {
        share.status = 'revoked';
        share.revokedAt = new Date().toISOString();
        render();
        progress.textContent = `The link to ${share.title} is revoked.`;
      }
    });
    return node;
  }

  function filtered() {
    return Boolean(filters.elements.text.value.trim() || filters.elements.status.value);
  }

  function render() {
    rows.replaceChildren(...shares.map(row));
    const shown = `${shares.length} link${shares.length === 1 ? '' : 's'} shown`;
    if (shares.length) {
      count.textContent = nextCursor ? `${shown}; more follow.` : `${shown}.`;
    } else {
      count.textContent = filtered()
        ? 'No link matches these filters.'
        : 'No page of this site is shared outside Confluence.';
    }
    more.hidden = !nextCursor;
    resize();
  }

  function listPath(cursor) {
    const params = new URLSearchParams();
    const text = filters.elements.text.value.trim();
    if (text) params.set('q', text);
    if (filters.elements.status.value) params.set('status', filters.elements.status.value);
    if (cursor) params.set('cursor', cursor);
    const search = params.toString();
    return search ? `/api/admin/shares?${search}` : '/api/admin/shares';
  }

  // The first page for the current filters (replacing the rows), or with `cursor` the next one.
  async function load(cursor) {
    const mine = ++query;
    progress.textContent = 'Loading links…';
    showError(pageError, null);
    try {
      const page = await api('GET', listPath(cursor));
      if (mine !== query) return;
      shares = cursor ? shares.concat(page.items) : page.items;
      nextCursor = page.nextCursor;
      progress.textContent = '';
      render();
    } catch (error) {
      if (mine !== query) return;
      progress.textContent = '';
      showError(pageError, error.message);
    }
  }

  let typing;
  filters.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => load(null), 250);
  });
  filters.addEventListener('submit', (event) => event.preventDefault());
  more.addEventListener('click', async () => {
    more.disabled = true;
    await load(nextCursor);
    more.disabled = false;
  });

  function showDefaults(settings) {
    defaultsField.value = settings.defaultFrameAncestors.join('\n');
    defaultsField.disabled = false;
    defaultsButton.disabled = false;
  }

  function note(message) {
    defaultsNote.textContent = message || '';
    defaultsNote.hidden = !message;
    resize();
  }

  defaults.addEventListener('submit', async (event) => {
    event.preventDefault();
    note(null);
    const body = { defaultFrameAncestors: origins(defaultsField.value) };
    const saved = await busy(defaultsButton, 'Saving…', defaultsError, () =>
      api('PUT', '/api/admin/settings', body),
    );
    if (!saved) {
      defaultsField.focus();
      return;
    }
    showDefaults(saved);
    note(
      saved.defaultFrameAncestors.length
        ? 'Default embedding sites saved. Links without sites of their own now follow them.'
        : 'Default embedding sites cleared: links without sites of their own may be embedded anywhere.',
    );
  });

  async function loadDefaults() {
    try {
      showDefaults(await api('GET', '/api/admin/settings'));
    } catch (error) {
      showError(defaultsError, error.message);
    }
  }

  // API keys.
  const keyForm = root.querySelector('[data-role=key-form]');
  const keyError = root.querySelector('[data-role=key-error]');
  const keyRows = root.querySelector('[data-role=key-rows]');
  const keyCount = root.querySelector('[data-role=key-count]');
  const newKey = root.querySelector('[data-role=new-key]');
  const newKeyValue = newKey.querySelector('input');
  const keyTemplate = document.getElementById('key-template');
  let keys = [];

  function keyRow(key) {
    const node = keyTemplate.content.firstElementChild.cloneNode(true);
    const $ = (selector) => node.querySelector(selector);
    node.dataset.id = key.id;
    $('[data-field=name]').textContent = key.name;
    $('[data-field=scopes]').textContent = key.scopes.join(' ');
    $('[data-field=creator]').textContent = key.createdBy;
    $('[data-field=created]').textContent = date(key.createdAt);
    $('[data-field=expiry]').textContent = key.expired
      ? `Expired ${date(key.expiresAt)}`
      : key.expiresAt
        ? date(key.expiresAt)
        : 'Never';
    $('[data-field=used]').textContent = key.lastUsedAt ? date(key.lastUsedAt) : 'Never';
    const revoke = $('[data-action=revoke-key]');
    const confirm = $('[data-role=confirm]');
    revoke.setAttribute('aria-label', `Revoke the API key ${key.name}`);
    const button = confirm.querySelector('[data-action=confirm-revoke-key]');
    twoStep(revoke, confirm, button, confirm.querySelector('[data-action=cancel-revoke-key]'));
    button.addEventListener('click', async () => {
      const done = await busy(button, 'Revoking…', keyError, () =>
        api('DELETE', `/api/admin/api-keys/${key.id}`).then(() => true),
      );
      if (done) {
        keys = keys.filter((other) => other.id !== key.id);
        renderKeys();
        progress.textContent = `The API key ${key.name} is revoked.`;
      }
    });
    return node;
  }

  function renderKeys() {
    keyRows.replaceChildren(...keys.map(keyRow));
    keyCount.textContent = keys.length
      ? `${keys.length} API ${keys.length === 1 ? 'key' : 'keys'}.`
      : 'This site has no API keys.';
    resize();
  }

  async function loadKeys() {
    try {
      keys = await api('GET', '/api/admin/api-keys');
      renderKeys();
    } catch (error) {
      showError(keyError, error.message);
    }
  }

  keyForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    newKey.hidden = true;
    newKeyValue.value = '';
    const fields = keyForm.elements;
    const body = {
      name: fields.name.value,
      scopes: [...keyForm.querySelectorAll('[name=scopes]:checked')].map((box) => box.value),
    };
    const expiresAt = fromLocalInput(fields.expiresAt.value);
    if (expiresAt) body.expiresAt = expiresAt;
    const button = keyForm.querySelector('[type=submit]');
    const created = await busy(button, 'Creating…', keyError, () =>
      api('POST', '/api/admin/api-keys', body),
    );
    if (!created) return;
    // Shown here once: the list and every later answer leave the key out.
    newKeyValue.value = created.key;
    newKey.hidden = false;
    delete created.key;
    keys = [created, ...keys];
    keyForm.reset();
    renderKeys();
    newKeyValue.focus();
    newKeyValue.select();
  });

  newKey.querySelector('[data-action=copy-key]').addEventListener('click', (event) =>
    copy(newKeyValue.value, event.currentTarget),
  );

  // Site unlock keys.
  const siteKeyForm = root.querySelector('[data-role=site-key-form]');
  const siteKeyError = root.querySelector('[data-role=site-key-error]');
  const siteKeyRows = root.querySelector('[data-role=site-key-rows]');
  const siteKeyCount = root.querySelector('[data-role=site-key-count]');
  const newSiteKey = root.querySelector('[data-role=new-site-key]');
  const newSiteKeyValue = newSiteKey.querySelector('#new-site-key-value');
  const siteKeySnippet = newSiteKey.querySelector('#site-key-snippet');
  const generateSiteKey = root.querySelector('[data-action=generate-site-key]');
  const siteKeyTemplate = document.getElementById('site-key-template');
  let siteKeys = [];
  const spaceKeysField = siteKeyForm.elements.spaceKeys;
  const spaceWarning = root.querySelector('[data-role=site-key-space-warning]');

  // Confluence space keys are upper case (personal spaces, `~…`, aside) and a key's spaces are
  // compared exactly: one written in lower case would unlock nothing. Said, not refused.
  function warnOfLowerCaseSpaces() {
    const lower = origins(spaceKeysField.value).filter((key) => !key.startsWith('~') && key !== key.toUpperCase());
    showError(
      spaceWarning,
      lower.length
        ? `Confluence space keys are upper case: ${lower.join(', ')} would unlock nothing. Did you mean ${lower
            .map((key) => key.toUpperCase())
            .join(', ')}?`
        : '',
    );
  }
  spaceKeysField.addEventListener('input', warnOfLowerCaseSpaces);

  function siteKeyRow(key) {
    const node = siteKeyTemplate.content.firstElementChild.cloneNode(true);
    const $ = (selector) => node.querySelector(selector);
    node.dataset.kid = key.kid;
    $('[data-field=kid]').textContent = key.kid;
    $('[data-field=alg]').textContent = key.alg;
    $('[data-field=spaces]').textContent = key.spaceKeys.length ? key.spaceKeys.join(', ') : 'All spaces';
    $('[data-field=created]').textContent = `${date(key.createdAt)} by ${key.createdBy}`;
    const remove = $('[data-action=remove-site-key]');
    const confirm = $('[data-role=confirm]');
    remove.setAttribute('aria-label', `Remove the site unlock key ${key.kid}`);
    const button = confirm.querySelector('[data-action=confirm-remove-site-key]');
    twoStep(remove, confirm, button, confirm.querySelector('[data-action=cancel-remove-site-key]'));
    button.addEventListener('click', async () => {
      const done = await busy(button, 'Removing…', siteKeyError, () =>
        api('DELETE', `/api/admin/unlock-keys/${encodeURIComponent(key.kid)}`).then(() => true),
      );
      if (done) {
        siteKeys = siteKeys.filter((other) => other.kid !== key.kid);
        renderSiteKeys();
        progress.textContent = `The site unlock key ${key.kid} is removed.`;
      }
    });
    return node;
  }

  function renderSiteKeys() {
    siteKeyRows.replaceChildren(...siteKeys.map(siteKeyRow));
    siteKeyCount.textContent = siteKeys.length
      ? `${siteKeys.length} site unlock ${siteKeys.length === 1 ? 'key' : 'keys'}.`
      : 'This site has no site unlock keys.';
    resize();
  }

  async function loadSiteKeys() {
    try {
      siteKeys = await api('GET', '/api/admin/unlock-keys');
      renderSiteKeys();
    } catch (error) {
      showError(siteKeyError, error.message);
    }
  }

  // A Node.js snippet (no package needed) that prints a link unlocked with the key `kid`: the
  // link is its argument, the secret comes from the environment.
  function mintingSnippet(kid) {
    return [
      '// Needs PAGESHARE_SITE_SECRET (the secret above, 64 hex digits). Node.js 16 or later.',
      '// Run: node mint.js https://…/content/LINK-ID',
      "const crypto = require('node:crypto');",
      "const secret = Buffer.from(process.env.PAGESHARE_SITE_SECRET, 'hex');",
      'const link = process.argv[process.argv.length - 1];',
      'const uuid = new URL(link).pathname.match(/\\/content\\/([0-9a-f-]{36})/)[1];',
      "const b64url = (text) => Buffer.from(text).toString('base64url');",
      'const now = Math.floor(Date.now() / 1000);',
      `const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: '${kid}' }));`,
      'const claims = b64url(JSON.stringify({ iss: uuid, nbf: now, exp: now + 60 }));',
      "const signature = crypto.createHmac('sha256', secret).update(`${header}.${claims}`).digest('base64url');",
      'console.log(`${link}?unlock=${header}.${claims}.${signature}`);',
    ].join('\n');
  }

  async function addSiteKey(button, body) {
    newSiteKey.hidden = true;
    newSiteKeyValue.value = '';
    const spaces = origins(spaceKeysField.value);
    const added = await busy(button, button === generateSiteKey ? 'Generating…' : 'Adding…', siteKeyError, () =>
      api('POST', '/api/admin/unlock-keys', { ...body, spaceKeys: spaces }),
    );
    if (!added) return;
    if (added.secret) {
      // Shown here once: the list and every later answer leave the secret out.
      newSiteKeyValue.value = added.secret;
      siteKeySnippet.value = mintingSnippet(added.kid);
      newSiteKey.hidden = false;
      delete added.secret;
    }
    siteKeys = [...siteKeys, added];
    siteKeyForm.reset();
    warnOfLowerCaseSpaces();
    renderSiteKeys();
    progress.textContent = `Site unlock key ${added.kid} (${added.alg}) added.`;
  }

  siteKeyForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const pasted = publicJwk(siteKeyForm.elements.jwk.value);
    if (pasted.error) {
      showError(siteKeyError, pasted.error);
      return;
    }
    await addSiteKey(siteKeyForm.querySelector('[type=submit]'), { jwk: pasted.jwk });
  });
  generateSiteKey.addEventListener('click', () => addSiteKey(generateSiteKey, { generate: 'HS256' }));
  newSiteKey.querySelector('[data-action=copy-site-key]').addEventListener('click', (event) =>
    copy(newSiteKeyValue.value, event.currentTarget),
  );

  // The audit log.
  const auditRows = root.querySelector('[data-role=audit-rows]');
  const auditCount = root.querySelector('[data-role=audit-count]');
  const auditError = root.querySelector('[data-role=audit-error]');
  const moreAudit = root.querySelector('[data-action=more-audit]');
  const downloadAudit = root.querySelector('[data-action=download-audit]');
  const auditTemplate = document.getElementById('audit-template');
  const ACTIONS = {
    'share.created': 'Link created',
    'share.changed': 'Link changed',
    'share.revoked': 'Link revoked',
    'password.set': 'Password set',
    'password.removed': 'Password removed',
    'unlock_secret.shown': 'Unlock secret shown',
    'unlock_secret.rotated': 'Unlock secret changed',
    'unlock_key.added': 'Unlock key added',
    'unlock_key.removed': 'Unlock key removed',
    'site_unlock_key.added': 'Site unlock key added',
    'site_unlock_key.removed': 'Site unlock key removed',
    'api_key.created': 'API key created',
    'api_key.first_used': 'API key first used',
    'api_key.revoked': 'API key revoked',
  };
  let auditCursor = null;
  let auditShown = 0;

  function auditRow(entry) {
    const node = auditTemplate.content.firstElementChild.cloneNode(true);
    const $ = (selector) => node.querySelector(selector);
    $('[data-field=at]').textContent = date(entry.at);
    $('[data-field=actor]').textContent = entry.actor;
    const action = $('[data-field=action]');
    action.textContent = ACTIONS[entry.action] || entry.action;
    action.title = entry.action;
    $('[data-field=share]').textContent = entry.share || '';
    $('[data-field=detail]').textContent = entry.detail;
    return node;
  }

  // The next page of the log (the first when `fresh`), after what is shown.
  async function loadAudit(fresh) {
    const query = !fresh && auditCursor ? `?cursor=${encodeURIComponent(auditCursor)}` : '';
    const page = await api('GET', `/api/admin/audit${query}`);
    if (fresh) {
      auditRows.replaceChildren();
      auditShown = 0;
    }
    auditRows.append(...page.items.map(auditRow));
    auditShown += page.items.length;
    auditCursor = page.nextCursor;
    moreAudit.hidden = !auditCursor;
    auditCount.textContent = auditShown
      ? `${auditShown} ${auditShown === 1 ? 'entry' : 'entries'} shown${auditCursor ? '; older ones follow' : ''}.`
      : 'Nothing has been recorded yet.';
    resize();
    return true;
  }

  moreAudit.addEventListener('click', () => busy(moreAudit, 'Loading…', auditError, () => loadAudit(false)));
  // Forge's invokeRemote carries JSON only: the Forge page has no CSV download.
  downloadAudit.hidden = forge;
  downloadAudit.addEventListener('click', () =>
    busy(downloadAudit, 'Preparing…', auditError, () =>
      download('/api/admin/audit.csv', 'pageshare-audit.csv', 'text/csv'),
    ),
  );

  // Every share's views per day, the last 30 days (today included).
  const downloadStats = root.querySelector('[data-action=download-stats]');
  const statsError = root.querySelector('[data-role=stats-error]');
  downloadStats.hidden = forge;
  downloadStats.addEventListener('click', () =>
    busy(downloadStats, 'Preparing…', statsError, () =>
      download('/api/admin/stats.csv', 'pageshare-readership.csv', 'text/csv'),
    ),
  );

  ready.then(
    () => {
      load(null);
      loadDefaults();
      loadKeys();
      loadSiteKeys();
      loadAudit(true).catch((error) => showError(auditError, error.message));
    },
    (error) => showError(pageError, error.message),
  );
})();
