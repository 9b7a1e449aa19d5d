// Peer reference for Pageshare's load benchmark: the share-panel iframe page as an
// atlassian-connect-express (ACE) app would serve it. addon.authenticate() verifies the Connect
// JWT in ?jwt= (computed qsh, HS256 with the tenant's shared secret) after reading the tenant
// from ACE's store (the Sequelize adapter on Postgres, config.json); the route then renders the
// same shell markup as Pageshare's templates/connect/share_panel.html (views/share-panel.html)
// with the same headers (CSP framed by the tenant's baseUrl, Cache-Control: no-store).
//
// Run through ../ace-bench.sh. By hand: NODE_ENV=production PORT=3000
// DB_URL=postgres://postgres@127.0.0.1:5432/ace_bench node app.js
// ACE reads config.json and atlassian-connect.json from the working directory, hence the chdir.
"use strict";

process.chdir(__dirname);
if (process.env.NODE_ENV !== "production") {
  console.error("app.js: run with NODE_ENV=production (config.json has only that mode)");
  process.exit(2);
}

const fs = require("fs");
const express = require("express");
const ace = require("atlassian-connect-express");

const app = express();
// Pageshare sends no ETag on these pages (they are never cached); Express would hash every body.
app.set("etag", false);
// ACE reads req.body while looking for the token, so a body parser is required (as in ACE's
// template). No request logger, no compression: nothing per request but the work itself.
app.use(express.json());
app.use(express.urlencoded({ extended: false }));

const addon = ace(app);
app.use(addon.middleware());

const escapes = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const escape = value => String(value).replace(/[&<>"']/g, c => escapes[c]);

// The template is split once at start: {{name}} is escaped, {{{name}}} is inserted as is.
const parts = fs
  .readFileSync("views/share-panel.html", "utf8")
  .split(/(\{\{\{?\w+\}\}\}?)/);
function render(values) {
  let out = "";
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (i % 2 === 0) out += part;
    else if (part.startsWith("{{{")) out += values[part.slice(3, -3)];
    else out += escape(values[part.slice(2, -2)]);
  }
  return out;
}

const localBaseUrl = addon.config.localBaseUrl();
const allJs = "https://connect-cdn.atl-paas.net/all.js";
const assets = {
  stylesheet: `${localBaseUrl}/static/pageshare.css`,
  allJs,
  commonJs: `${localBaseUrl}/static/common.js`,
  pageJs: `${localBaseUrl}/static/panel.js`
};

function origin(url) {
  try {
    return new URL(url).origin;
  } catch (_) {
    return null;
  }
}

app.get("/connect/share-panel", addon.authenticate(), (req, res) => {
  const contentId = req.query.contentId;
  if (typeof contentId !== "string" || !/^[0-9]{1,20}$/.test(contentId)) {
    res.status(400).type("text/plain").send("The contentId parameter is missing or not a Confluence content id.");
    return;
  }
  const spaceKey = typeof req.query.spaceKey === "string" ? req.query.spaceKey : null;
  // res.locals.clientKey and hostBaseUrl come from the verified token and the stored tenant.
  const { clientKey, hostBaseUrl } = res.locals;
  const ancestors = origin(hostBaseUrl) || "'none'";
  res.set({
    "Content-Security-Policy":
      `default-src 'none'; script-src 'self' ${origin(allJs)}; connect-src 'self' ${origin(allJs)}; ` +
      `style-src 'self'; img-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors ${ancestors}`,
    "Cache-Control": "no-store"
  });
  res.type("text/html; charset=utf-8").send(
    render({
      ...assets,
      apiBase: localBaseUrl,
      contentId,
      clientKey,
      spaceSuffix: spaceKey === null ? "" : ` in space <code>${escape(spaceKey)}</code>`
    })
  );
});

app.get("/healthz", (req, res) => res.type("text/plain").send("ok"));

// Listen only once the store's table exists (ACE creates it with Sequelize sync at start), so a
// port that answers means the tenant can be seeded.
addon.settings.connectionPromise.then(
  () => {
    const port = Number(addon.config.port());
    app.listen(port, "127.0.0.1", () => {
      console.error(`ace-app: atlassian-connect-express on ${localBaseUrl} (pid ${process.pid})`);
    });
  },
  err => {
    console.error("ace-app: the store could not be set up:", err.message);
    process.exit(1);
  }
);
