// The share panel: one page's external links, and everything a Confluence user does with them.
'use strict';

(() => {
  const {
    root,
    api,
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
    ready,
  } = Pageshare;
  // The page's id, once the platform has said which page this is (`ready`).
  let contentId = '';
  const list = root.querySelector('[data-role=list]');
  const empty = root.querySelector('[data-role=empty]');
  const progress = root.querySelector('[data-role=progress]');
  const pageError = root.querySelector('[data-role=error]');
  const createForm = root.querySelector('[data-role=create]');
  const template = document.getElementById('share-template');

  let shares = [];
  // Unlock secrets the user asked to see, by share uuid; they reach the page only on request.
  const secrets = new Map();
  // Shares whose settings are open, so a re-render keeps them open.
  const open = new Set();

  // A share as the page keeps it: without its unlock secret until the user asks for it.
  function kept(share) {
    const { unlockSecret, ...rest } = share;
    return rest;
  }

  // Snippets that mint an unlock token for the share (nbf now, exp 60 s later, iss the uuid)
  // and print the link to open, with the secret from the environment.
  function snippets(share) {
    const need = 'PAGESHARE_UNLOCK_SECRET (the unlock secret, 64 hex digits)';
    return {
      shell: [
        `# Needs ${need} and openssl.`,
        "b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }",
        'now=$(date +%s)',
        `header=$(printf '%s' '{"alg":"HS256","typ":"JWT"}' | b64url)`,
        `claims=$(printf '{"iss":"%s","nbf":%d,"exp":%d}' '${share.uuid}' "$now" "$((now + 60))" | b64url)`,
        `signature=$(printf '%s.%s' "$header" "$claims" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$PAGESHARE_UNLOCK_SECRET" -binary | b64url)`,
        `echo "${share.url}?unlock=$header.$claims.$signature"`,
      ],
      node: [
        `// Needs ${need}. Node.js 16 or later.`,
        "const crypto = require('node:crypto');",
        "const secret = Buffer.from(process.env.PAGESHARE_UNLOCK_SECRET, 'hex');",
        "const b64url = (text) => Buffer.from(text).toString('base64url');",
        'const now = Math.floor(Date.now() / 1000);',
        "const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));",
        `const claims = b64url(JSON.stringify({ iss: '${share.uuid}', nbf: now, exp: now + 60 }));`,
        "const signature = crypto.createHmac('sha256', secret).update(`${header}.${claims}`).digest('base64url');",
        `console.log(\`${share.url}?unlock=\${header}.\${claims}.\${signature}\`);`,
      ],
      python: [
        `# Needs ${need}. Python 3, standard library only.`,
        'import base64, hashlib, hmac, json, os, time',
        '',
        'def b64url(data):',
        '    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()',
        '',
        'secret = bytes.fromhex(os.environ["PAGESHARE_UNLOCK_SECRET"])',
        'now = int(time.time())',
        'header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())',
        `claims = b64url(json.dumps({"iss": "${share.uuid}", "nbf": now, "exp": now + 60}).encode())`,
        'signature = b64url(hmac.new(secret, f"{header}.{claims}".encode(), hashlib.sha256).digest())',
        `print(f"${share.url}?unlock={header}.{claims}.{signature}")`,
      ],
    };
  }

  // Snippets that mint an unlock token with a private key (the algorithm follows the key's type)
  // and print the link to open; the key file and its kid come from the environment.
  function keySnippets(share) {
    const need =
      'PAGESHARE_UNLOCK_KEY (a private key file, PKCS#8 PEM: Ed25519, P-256 or RSA) and PAGESHARE_UNLOCK_KID (its kid in Pageshare)';
    return {
      shell: [
        `# Needs ${need}, bash and openssl 3.`,
        "b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }",
        'key="$PAGESHARE_UNLOCK_KEY"',
        "case $(openssl pkey -in \"$key\" -pubout | openssl asn1parse | grep -o -m1 -E 'ED25519|id-ecPublicKey|rsaEncryption') in",
        '  ED25519) alg=EdDSA ;; id-ecPublicKey) alg=ES256 ;; *) alg=RS256 ;;',
        'esac',
        'now=$(date +%s)',
        `header=$(printf '{"alg":"%s","typ":"JWT","kid":"%s"}' "$alg" "$PAGESHARE_UNLOCK_KID" | b64url)`,
        `claims=$(printf '{"iss":"%s","nbf":%d,"exp":%d}' '${share.uuid}' "$now" "$((now + 60))" | b64url)`,
        'input=$(mktemp) && printf \'%s.%s\' "$header" "$claims" > "$input"',
        'case $alg in',
        '  EdDSA) signature=$(openssl pkeyutl -sign -inkey "$key" -rawin -in "$input" | b64url) ;;',
        '  RS256) signature=$(openssl dgst -sha256 -sign "$key" -binary "$input" | b64url) ;;',
        '  ES256) # openssl writes ECDSA signatures in DER; a JWS wants r and s, 32 bytes each.',
        "    hex=$(openssl dgst -sha256 -sign \"$key\" -binary \"$input\" | openssl asn1parse -inform DER | sed -n 's/.*INTEGER *://p' | while read -r n; do printf '%64s' \"$n\" | tr ' ' 0; done)",
        "    signature=$(printf \"$(printf '%s' \"$hex\" | sed 's/../\\\\x&/g')\" | b64url) ;;",
        'esac',
        'rm -f "$input"',
        `echo "${share.url}?unlock=$header.$claims.$signature"`,
      ],
      node: [
        `// Needs ${need}. Node.js 16 or later.`,
        "const crypto = require('node:crypto');",
        "const fs = require('node:fs');",
        'const key = crypto.createPrivateKey(fs.readFileSync(process.env.PAGESHARE_UNLOCK_KEY));',
        "const alg = { ed25519: 'EdDSA', ec: 'ES256', rsa: 'RS256' }[key.asymmetricKeyType];",
        "const b64url = (data) => Buffer.from(data).toString('base64url');",
        'const now = Math.floor(Date.now() / 1000);',
        "const header = b64url(JSON.stringify({ alg, typ: 'JWT', kid: process.env.PAGESHARE_UNLOCK_KID }));",
        `const claims = b64url(JSON.stringify({ iss: '${share.uuid}', nbf: now, exp: now + 60 }));`,
        "const hash = alg === 'EdDSA' ? null : 'sha256';",
        "const signature = crypto.sign(hash, Buffer.from(`${header}.${claims}`), { key, dsaEncoding: 'ieee-p1363' });",
        `console.log(\`${share.url}?unlock=\${header}.\${claims}.\${b64url(signature)}\`);`,
      ],
      python: [
        `# Needs ${need}. Python 3 with the cryptography package.`,
        'import base64, json, os, time',
        'from cryptography.hazmat.primitives import hashes, serialization',
        'from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding',
        'from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature',
        '',
        'def b64url(data):',
        '    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()',
        '',
        'with open(os.environ["PAGESHARE_UNLOCK_KEY"], "rb") as file:',
        '    key = serialization.load_pem_private_key(file.read(), password=None)',
        'if isinstance(key, ed25519.Ed25519PrivateKey):',
        '    alg = "EdDSA"',
        'elif isinstance(key, ec.EllipticCurvePrivateKey):',
        '    alg = "ES256"',
        'else:',
        '    alg = "RS256"',
        'now = int(time.time())',
        'header = b64url(json.dumps({"alg": alg, "typ": "JWT", "kid": os.environ["PAGESHARE_UNLOCK_KID"]}).encode())',
        `claims = b64url(json.dumps({"iss": "${share.uuid}", "nbf": now, "exp": now + 60}).encode())`,
        'data = f"{header}.{claims}".encode()',
        'if alg == "EdDSA":',
        '    signature = key.sign(data)',
        'elif alg == "ES256":',
        '    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))',
        '    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")',
        'else:',
        '    signature = key.sign(data, padding.PKCS1v15(), hashes.SHA256())',
        `print(f"${share.url}?unlock={header}.{claims}.{b64url(signature)}")`,
      ],
    };
  }

  // The share's public unlock keys, listed in the card's `keys` section.
  function showKeys(share, node, keys) {
    const listNode = node.querySelector('[data-role=keys]');
    listNode.replaceChildren(
      ...keys.map((key) => {
        const item = document.createElement('li');
        const kid = document.createElement('code');
        kid.textContent = key.kid;
        const about = document.createElement('span');
        about.className = 'muted small';
        about.textContent = `${key.alg}, added ${date(key.createdAt)}`;
        const remove = document.createElement('button');
        remove.type = 'button';
        remove.className = 'button subtle small';
        remove.textContent = 'Remove';
        remove.setAttribute('aria-label', `Remove the unlock key ${key.kid}`);
        remove.addEventListener('click', () => removeKey(share, node, key.kid, remove));
        item.append(kid, about, remove);
        return item;
      }),
    );
    node.querySelector('[data-role=keys-empty]').hidden = keys.length > 0;
    resize();
  }

  const keysPath = (share) => `/api/shares/${share.uuid}/unlock-keys`;

  async function loadKeys(share, node) {
    const status = node.querySelector('[data-role=keys-progress]');
    status.textContent = 'Loading keys…';
    try {
      showKeys(share, node, await api('GET', keysPath(share)));
    } catch (error) {
      showError(errorBox(node), error.message);
    } finally {
      status.textContent = '';
      resize();
    }
  }

  async function removeKey(share, node, kid, button) {
    const done = await busy(button, 'Removing…', errorBox(node), () =>
      api('DELETE', `${keysPath(share)}/${encodeURIComponent(kid)}`).then(() => true),
    );
    if (!done) return;
    note(node, `Unlock key ${kid} removed: tokens signed with it no longer work.`);
    await loadKeys(share, node);
  }

  // The share's last 30 days: totals, and views per day as SVG bars (no chart library).
  function showReadership(node, stats) {
    const $ = (selector) => node.querySelector(selector);
    const number = (n) => n.toLocaleString('en');
    const totals = stats.totals;
    $('[data-field=views]').textContent = number(totals.views);
    $('[data-field=readers]').textContent = number(totals.uniqueReaders);
    $('[data-field=by-access]').textContent = ['open', 'password', 'unlock', 'cookie']
      .map((kind) => `${kind} ${number(totals.byAccess[kind])}`)
      .join(', ');
    $('[data-role=readership-totals]').hidden = false;
    const chart = $('[data-role=views-chart]');
    const most = Math.max(1, ...stats.days.map((day) => day.views));
    const width = 300 / stats.days.length;
    chart.replaceChildren(
      ...stats.days.map((day, i) => {
        const bar = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
        const height = (day.views / most) * 60;
        bar.setAttribute('x', String(i * width));
        bar.setAttribute('y', String(60 - height));
        bar.setAttribute('width', String(width * 0.8));
        bar.setAttribute('height', String(height));
        bar.dataset.views = String(day.views);
        const title = document.createElementNS('http://www.w3.org/2000/svg', 'title');
        title.textContent = `${day.date}: ${number(day.views)} views, ${number(day.uniqueReaders)} readers`;
        bar.append(title);
        return bar;
      }),
    );
    chart.setAttribute('aria-label', `Views per day from ${stats.from} to ${stats.to}`);
    // `hidden` is an HTML property only: an SVG element loses the attribute itself.
    chart.removeAttribute('hidden');
    resize();
  }

  async function loadReadership(share, node) {
    const status = node.querySelector('[data-role=readership-progress]');
    status.textContent = 'Loading views…';
    try {
      showReadership(node, await api('GET', `/api/shares/${share.uuid}/stats`));
    } catch (error) {
      showError(errorBox(node), error.message);
    } finally {
      status.textContent = '';
      resize();
    }
  }

  function note(node, text) {
    const box = node.querySelector('[data-role=share-note]');
    box.textContent = text;
    box.hidden = false;
  }

  function card(share) {
    const node = template.content.firstElementChild.cloneNode(true);
    const $ = (selector) => node.querySelector(selector);
    node.dataset.uuid = share.uuid;
    for (const input of node.querySelectorAll('[data-input]')) {
      input.id = `${input.dataset.input}-${share.uuid}`;
      node.querySelector(`[data-label="${input.dataset.input}"]`).htmlFor = input.id;
    }
    lozenge($('[data-field=status]'), share.status);
    $('[data-field=created]').textContent = `Created ${date(share.createdAt)}`;
    $('[data-input=link]').value = share.url;
    $('[data-field=password]').textContent = share.passwordProtected ? 'On' : 'Off';
    $('[data-field=expiry]').textContent = share.expiresAt ? date(share.expiresAt) : 'Never';
    $('[data-field=origins]').textContent = share.frameAncestors.length
      ? share.frameAncestors.join(', ')
      : "The site's default";
    $('[data-field=pages]').textContent = share.includeChildren ? 'This page and the pages below it' : 'This page';
    const readership = $('[data-role=readership]');
    readership.addEventListener('toggle', () => {
      if (readership.open) loadReadership(share, node);
      resize();
    });

    const manage = $('[data-role=manage]');
    if (share.status === 'revoked') {
      node.classList.add('revoked');
      $('[data-action=copy-link]').remove();
      manage.remove();
      return node;
    }
    manage.open = open.has(share.uuid);
    manage.addEventListener('toggle', () => {
      if (manage.open) open.add(share.uuid);
      else open.delete(share.uuid);
      resize();
    });

    $('[data-label=password]').textContent = share.passwordProtected ? 'New password' : 'Password';
    $('[data-role=password-submit]').textContent = share.passwordProtected
      ? 'Change password'
      : 'Set password';
    $('[data-action=remove-password]').hidden = !share.passwordProtected;
    $('[data-role=secret]').hidden = !share.passwordProtected;
    $('[data-role=secret-off]').hidden = share.passwordProtected;
    const previous = $('[data-field=previous-secret]');
    if (share.previousSecretExpiresAt && new Date(share.previousSecretExpiresAt) > new Date()) {
      previous.textContent = `The previous unlock secret keeps working until ${date(share.previousSecretExpiresAt)}.`;
      previous.hidden = false;
    }
    const secret = secrets.get(share.uuid);
    if (secret) {
      $('[data-input=secret]').value = secret;
      $('[data-action=show-secret]').hidden = true;
      $('[data-action=copy-secret]').hidden = false;
      $('[data-action=change-secret]').hidden = false;
    }
    const code = snippets(share);
    for (const block of node.querySelectorAll('[data-snippet]')) {
      block.querySelector('code').textContent = code[block.dataset.snippet].join('\n');
    }
    $('[data-role=snippets]').addEventListener('toggle', resize);
    const keyCode = keySnippets(share);
    for (const block of node.querySelectorAll('[data-key-snippet]')) {
      block.querySelector('code').textContent = keyCode[block.dataset.keySnippet].join('\n');
    }
    const keysSection = $('[data-role=unlock-keys]');
    keysSection.addEventListener('toggle', () => {
      if (keysSection.open) loadKeys(share, node);
      resize();
    });
    $('[data-input=expiry]').value = toLocalInput(share.expiresAt);
    $('[data-input=origins]').value = share.frameAncestors.join('\n');

    node.addEventListener('click', (event) => {
      const button = event.target.closest('[data-action]');
      if (button && actions[button.dataset.action]) {
        actions[button.dataset.action](share, node, button);
      }
    });
    for (const form of node.querySelectorAll('[data-form]')) {
      form.addEventListener('submit', (event) => {
        event.preventDefault();
        submits[form.dataset.form](share, node, form.querySelector('[type=submit]'));
      });
    }
    return node;
  }

  function render() {
    list.replaceChildren(...shares.map(card).reverse());
    empty.hidden = shares.length > 0;
    resize();
  }

  // Draw one share again, keep the user's place, and say what happened.
  function redraw(share, focus, note) {
    const index = shares.findIndex((s) => s.uuid === share.uuid);
    shares[index] = share;
    const old = list.querySelector(`[data-uuid="${share.uuid}"]`);
    const fresh = card(share);
    old.replaceWith(fresh);
    if (note) {
      const box = fresh.querySelector('[data-role=share-note]');
      box.textContent = note;
      box.hidden = false;
    }
    const target = focus && fresh.querySelector(focus);
    if (target) target.focus();
    resize();
  }

  const errorBox = (node) => node.querySelector('[data-role=share-error]');

  async function patch(share, node, button, body, note, focus) {
    const updated = await busy(button, 'Saving…', errorBox(node), () =>
      api('PATCH', `/api/shares/${share.uuid}`, body),
    );
    if (updated) redraw(kept(updated), focus, note);
  }

  function confirmBox(node, role, shown) {
    const box = node.querySelector(`[data-role=${role}]`);
    box.hidden = !shown;
    resize();
    return box;
  }

  // "Keep the old one working": long enough for a server's deploy, a day.
  const OVERLAP_SECONDS = 24 * 60 * 60;

  async function changeSecret(share, node, button, graceSeconds) {
    const answer = await busy(button, 'Changing…', errorBox(node), () =>
      api('POST', `/api/shares/${share.uuid}/unlock-secret`, { graceSeconds }),
    );
    if (!answer) return;
    secrets.set(share.uuid, answer.unlockSecret);
    const until = answer.previousSecretExpiresAt;
    const note = until
      ? `New unlock secret in place. Tokens signed with the old one keep working until ${date(until)}.`
      : 'New unlock secret in place. Tokens signed with the old one no longer work, and readers must unlock again.';
    redraw({ ...share, previousSecretExpiresAt: until }, '[data-input=secret]', note);
  }

  const actions = {
    'copy-link': (share, node, button) => copy(share.url, button),
    'remove-password': (share, node, button) =>
      patch(share, node, button, { password: null }, 'Password removed: anyone with the link can read the page.', '[data-input=password]'),
    'clear-expiry': (share, node, button) =>
      patch(share, node, button, { expiresAt: null }, 'The link no longer expires.', '[data-input=expiry]'),
    'show-secret': async (share, node, button) => {
      const fresh = await busy(button, 'Loading…', errorBox(node), () =>
        api('GET', `/api/shares/${share.uuid}`),
      );
      if (fresh) {
        secrets.set(share.uuid, fresh.unlockSecret);
        redraw(kept(fresh), '[data-input=secret]');
      }
    },
    'copy-secret': (share, node, button) => copy(secrets.get(share.uuid), button),
    'copy-snippet': (share, node, button) =>
      copy(button.closest('.snippet').querySelector('code').textContent, button),
    'change-secret': (share, node) => {
      confirmBox(node, 'confirm-secret', true)
        .querySelector('[data-action=confirm-change-secret]')
        .focus();
    },
    'cancel-change-secret': (share, node) => {
      confirmBox(node, 'confirm-secret', false);
      node.querySelector('[data-action=change-secret]').focus();
    },
    'confirm-change-secret': (share, node, button) => changeSecret(share, node, button, 0),
    'confirm-change-secret-overlap': (share, node, button) =>
      changeSecret(share, node, button, OVERLAP_SECONDS),
    revoke: (share, node) => {
      confirmBox(node, 'confirm-revoke', true)
        .querySelector('[data-action=confirm-revoke]')
        .focus();
    },
    'cancel-revoke': (share, node) => {
      confirmBox(node, 'confirm-revoke', false);
      node.querySelector('[data-action=revoke]').focus();
    },
    'confirm-revoke': async (share, node, button) => {
      const done = await busy(button, 'Revoking…', errorBox(node), () =>
        api('DELETE', `/api/shares/${share.uuid}`).then(() => true),
      );
      if (done) {
        open.delete(share.uuid);
        secrets.delete(share.uuid);
        const revoked = { ...share, status: 'revoked', revokedAt: new Date().toISOString() };
        redraw(revoked, '[data-action=copy-link]', 'Link revoked: it no longer opens the page.');
      }
    },
  };

  const submits = {
    'add-key': async (share, node, button) => {
      const input = node.querySelector('[data-input=jwk]');
      // A private key is refused here, before it leaves the browser.
      const pasted = publicJwk(input.value);
      if (pasted.error) {
        showError(errorBox(node), pasted.error);
        return;
      }
      const added = await busy(button, 'Adding…', errorBox(node), () =>
        api('POST', keysPath(share), { jwk: pasted.jwk }),
      );
      if (!added) return;
      input.value = '';
      note(node, `Unlock key ${added.kid} (${added.alg}) added.`);
      await loadKeys(share, node);
    },
    password: (share, node, button) => {
      const input = node.querySelector('[data-input=password]');
      const note = share.passwordProtected
        ? 'Password changed: readers need the new one.'
        : 'Password set.';
      return patch(share, node, button, { password: input.value }, note, '[data-input=password]');
    },
    expiry: (share, node, button) => {
      const value = node.querySelector('[data-input=expiry]').value;
      if (!value) {
        showError(errorBox(node), 'Pick a date and time, or choose Never expire.');
        return undefined;
      }
      return patch(share, node, button, { expiresAt: fromLocalInput(value) }, 'Expiry saved.', '[data-input=expiry]');
    },
    origins: (share, node, button) => {
      const frameAncestors = origins(node.querySelector('[data-input=origins]').value);
      return patch(share, node, button, { frameAncestors }, 'Embedding sites saved.', '[data-input=origins]');
    },
  };

  createForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const fields = createForm.elements;
    const body = { contentId };
    if (fields.password.value) body.password = fields.password.value;
    if (fields.expiresAt.value) body.expiresAt = fromLocalInput(fields.expiresAt.value);
    const frameAncestors = origins(fields.frameAncestors.value);
    if (frameAncestors.length) body.frameAncestors = frameAncestors;
    if (fields.includeChildren.checked) body.includeChildren = true;
    const button = createForm.querySelector('[type=submit]');
    const errorBox = createForm.querySelector('[data-role=form-error]');
    const created = await busy(button, 'Creating…', errorBox, () => api('POST', '/api/shares', body));
    if (!created) return;
    createForm.reset();
    shares.push(kept(created));
    open.add(created.uuid);
    render();
    redraw(kept(created), '[data-action=copy-link]', 'Link created. Copy it and send it to your readers.');
  });

  async function load() {
    progress.textContent = 'Loading links…';
    try {
      const found = await api('GET', `/api/shares?contentId=${encodeURIComponent(contentId)}`);
      shares = found.map(kept);
      render();
    } catch (error) {
      showError(pageError, error.message);
    } finally {
      progress.textContent = '';
      resize();
    }
  }

  const createButton = createForm.querySelector('[type=submit]');
  createButton.disabled = true;
  ready.then(
    (context) => {
      contentId = context.contentId;
      createButton.disabled = false;
      load();
    },
    (error) => showError(pageError, error.message),
  );
})();
