// The site admin page: every external link of the site, filtered here, revocable; and the
// site's default embedding sites.
'use strict';

(() => {
  const { root, ready, api, busy, showError, date, origins, resize, lozenge } = Pageshare;
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

  let shares = [];

  function matches(share, text, status) {
    if (status && share.status !== status) return false;
    if (!text) return true;
    const haystack = [share.title, share.spaceKey, share.contentId, share.createdBy, share.url]
      .join(' ')
      .toLowerCase();
    return haystack.includes(text);
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
    lozenge($('[data-field=status]'), share.status);
    const revoke = $('[data-action=revoke]');
    const confirm = $('[data-role=confirm]');
    if (share.status === 'revoked') {
      revoke.remove();
      confirm.remove();
      return node;
    }
    revoke.setAttribute('aria-label', `Revoke the link to ${share.title}`);
    revoke.addEventListener('click', () => {
      revoke.hidden = true;
      confirm.hidden = false;
      confirm.querySelector('[data-action=confirm-revoke]').focus();
    });
    confirm.querySelector('[data-action=cancel-revoke]').addEventListener('click', () => {
      confirm.hidden = true;
      revoke.hidden = false;
      revoke.focus();
    });
    const button = confirm.querySelector('[data-action=confirm-revoke]');
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

  function render() {
    const text = filters.elements.text.value.trim().toLowerCase();
    const status = filters.elements.status.value;
    const shown = shares.filter((share) => matches(share, text, status));
    rows.replaceChildren(...shown.map(row));
    count.textContent = shares.length
      ? `${shown.length} of ${shares.length} links shown.`
      : 'No page of this site is shared outside Confluence.';
    resize();
  }

  filters.addEventListener('input', render);
  filters.addEventListener('submit', (event) => event.preventDefault());

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

  async function load() {
    progress.textContent = 'Loading links…';
    try {
      shares = await api('GET', '/api/admin/shares');
      progress.textContent = '';
      render();
    } catch (error) {
      progress.textContent = '';
      showError(pageError, error.message);
    }
  }

  async function loadDefaults() {
    try {
      showDefaults(await api('GET', '/api/admin/settings'));
    } catch (error) {
      showError(defaultsError, error.message);
    }
  }

  ready.then(
    () => {
      load();
      loadDefaults();
    },
    (error) => showError(pageError, error.message),
  );
})();
