// What the share panel and the admin page share: Web API calls with a fresh context token,
// error messages in plain words, progress, copying, dates, and resizing the Confluence iframe.
'use strict';

const Pageshare = (() => {
  const root = document.querySelector('[data-api]');
  const apiBase = root.dataset.api;

  // A context token for exactly one call: asked for right before it and never kept.
  function contextToken() {
    return new Promise((resolve, reject) => {
      if (!window.AP || !window.AP.context) {
        reject(new Error('Confluence is not answering this page. Reload it from Confluence.'));
        return;
      }
      window.AP.context.getToken((token) => {
        if (token) {
          resolve(token);
        } else {
          reject(new Error('Confluence did not confirm who you are. Reload the page and try again.'));
        }
      });
    });
  }

  // Labels of the fields an API error may be about (`error.field`), as this UI calls them.
  const FIELD_LABELS = {
    password: 'Password',
    expiresAt: 'Expires',
    frameAncestors: 'Sites that may embed it',
    defaultFrameAncestors: 'Default embedding sites',
  };

  // The API's error in its own words (the server's message), after the field it is about.
  function explain(status, body) {
    const error = (body && body.error) || {};
    const message = error.message || `Something went wrong (error ${status}). Try again.`;
    const label = FIELD_LABELS[String(error.field || '').split(/[.[]/)[0]];
    return label ? `${label}: ${message}` : message;
  }

  async function api(method, path, body) {
    const token = await contextToken();
    const init = {
      method,
      headers: { Authorization: `JWT ${token}` },
      cache: 'no-store',
      credentials: 'omit',
    };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(apiBase + path, init);
    } catch {
      throw new Error('Pageshare could not be reached. Check your connection and try again.');
    }
    if (response.status === 204) return null;
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new Error(explain(response.status, data));
    return data;
  }

  // Run `work` while `button` shows progress; its error goes to `errorBox`, in words.
  async function busy(button, label, errorBox, work) {
    const original = button.textContent;
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    button.textContent = label;
    showError(errorBox, null);
    try {
      return await work();
    } catch (error) {
      showError(errorBox, error.message);
      return undefined;
    } finally {
      button.disabled = false;
      button.removeAttribute('aria-busy');
      button.textContent = original;
      resize();
    }
  }

  function showError(box, message) {
    box.textContent = message || '';
    box.hidden = !message;
    resize();
  }

  async function copy(text, button) {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      const field = document.createElement('textarea');
      field.value = text;
      field.setAttribute('readonly', '');
      field.className = 'visually-hidden';
      document.body.append(field);
      field.select();
      document.execCommand('copy');
      field.remove();
    }
    const original = button.dataset.label || button.textContent;
    button.dataset.label = original;
    button.textContent = 'Copied';
    setTimeout(() => {
      button.textContent = original;
    }, 1500);
  }

  function date(iso) {
    if (!iso) return '';
    return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  }

  // `<input type=datetime-local>` works in local time without a zone.
  function toLocalInput(iso) {
    if (!iso) return '';
    const at = new Date(iso);
    const pad = (n) => String(n).padStart(2, '0');
    return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}T${pad(at.getHours())}:${pad(at.getMinutes())}`;
  }

  function fromLocalInput(value) {
    return value ? new Date(value).toISOString() : null;
  }

  // The origins of a textarea: one per line (spaces and commas separate them too).
  function origins(text) {
    return text
      .split(/[\s,]+/)
      .map((line) => line.trim())
      .filter(Boolean);
  }

  function resize() {
    if (window.AP && typeof window.AP.resize === 'function') window.AP.resize();
  }

  const STATUS_LABELS = { active: 'Active', expired: 'Expired', revoked: 'Revoked' };

  function lozenge(element, status) {
    element.textContent = STATUS_LABELS[status] || status;
    element.className = `lozenge ${status}`;
  }

  return {
    root,
    api,
    busy,
    showError,
    copy,
    date,
    toLocalInput,
    fromLocalInput,
    origins,
    resize,
    lozenge,
  };
})();
