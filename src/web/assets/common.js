// What the share panel and the admin page share: Web API calls (with a fresh Connect context
// token, or through Forge's invokeRemote), error messages in plain words, progress, copying,
// dates, and resizing the Confluence iframe.
'use strict';

const Pageshare = (() => {
  const root = document.querySelector('[data-api]');
  const apiBase = root.dataset.api;
  const forge = root.dataset.platform === 'forge';
  const UNREACHABLE = 'Confluence is not answering this page. Reload it from Confluence.';

  // A context token for exactly one call: asked for right before it and never kept.
  function contextToken() {
    return new Promise((resolve, reject) => {
      if (!window.AP || !window.AP.context) {
        reject(new Error(UNREACHABLE));
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

  // Forge's bridge (forge-bridge.js), or an error in words when the page runs elsewhere.
  function bridge() {
    if (!window.PageshareForge) throw new Error(UNREACHABLE);
    return window.PageshareForge;
  }

  // The page and space this page is about: rendered into the page on Connect; asked of Forge
  // (view.getContext) on Forge, and written into the page as Connect would have rendered it.
  async function pageContext() {
    if (!forge) {
      return { contentId: root.dataset.contentId || '' };
    }
    const context = await bridge().getContext();
    const extension = (context && context.extension) || {};
    const contentId = String((extension.content && extension.content.id) || '');
    const spaceKey = extension.space && extension.space.key;
    if ('contentId' in root.dataset) {
      root.dataset.contentId = contentId;
      const idField = root.querySelector('[data-field=content-id]');
      if (idField) idField.textContent = contentId;
      const spaceField = root.querySelector('[data-field=space]');
      if (spaceField && spaceKey) {
        const code = document.createElement('code');
        code.textContent = spaceKey;
        spaceField.replaceChildren(' in space ', code);
      }
    }
    return { contentId };
  }

  // Resolves once the page knows its context; the pages wait for it before their first call.
  const ready = pageContext();

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

  // A Web API call with a fresh context token; the answer, once it is known to be a success.
  async function connectFetch(method, path, body) {
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
    if (!response.ok) {
      throw new Error(explain(response.status, await response.json().catch(() => null)));
    }
    return response;
  }

  async function connectCall(method, path, body) {
    const response = await connectFetch(method, path, body);
    if (response.status === 204) return null;
    return response.json().catch(() => null);
  }

  // invokeRemote resolves with `{status, headers, body}` for any answer with a JSON body, and
  // rejects (in Forge's words, not the user's) on a 401, a network failure or a timeout.
  async function forgeCall(method, path, body) {
    const input = { path: apiBase + path, method };
    if (body !== undefined) input.body = body;
    let response;
    try {
      response = await bridge().invokeRemote(input);
    } catch {
      throw new Error('Pageshare could not be reached, or could not confirm who you are. Reload the page and try again.');
    }
    const status = response && response.status;
    if (!status) throw new Error(UNREACHABLE);
    if (status === 204) return null;
    const data = response.body === undefined ? null : response.body;
    if (status < 200 || status > 299) throw new Error(explain(status, data));
    return data;
  }

  function api(method, path, body) {
    return forge ? forgeCall(method, path, body) : connectCall(method, path, body);
  }

  // Save what a GET of `path` answers (a CSV export) as the file `name`. The export is
  // authenticated like every call, so a plain link could not fetch it. Connect only: Forge's
  // invokeRemote refuses an answer that is not JSON.
  async function download(path, name, type) {
    const response = await connectFetch('GET', path);
    const url = URL.createObjectURL(new Blob([await response.text()], { type }));
    const link = document.createElement('a');
    link.href = url;
    link.download = name;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
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

  // Members only a private (or symmetric) JWK has: such a key is never sent anywhere.
  const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

  // The JWK pasted in `text`, or the reason it is not sent: not JSON, or a private key.
  function publicJwk(text) {
    let jwk;
    try {
      jwk = JSON.parse(text);
    } catch {
      return { error: 'Public key (JWK): paste the key as JSON, as your key tool printed it.' };
    }
    const member = jwk && typeof jwk === 'object' ? PRIVATE_MEMBERS.find((name) => name in jwk) : null;
    if (member) {
      return {
        error: `This is a private key (it has "${member}"): it was not sent. Paste the public key only, and keep the private key on your server.`,
      };
    }
    return { jwk };
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
    forge,
    ready,
    api,
    download,
    busy,
    showError,
    copy,
    date,
    publicJwk,
    toLocalInput,
    fromLocalInput,
    origins,
    resize,
    lozenge,
  };
})();
