// Seeds one tenant straight into ACE's store and prints a signed share-panel iframe URL.
//
//   node seed.js BASE_URL [--ttl SECONDS] [--tamper signature|query]
//
// DB_URL names the database (the one app.js uses); the app must have started once, so that
// ACE's Sequelize adapter has created its table:
//
//   "AddonSettings" (id serial primary key, "clientKey" varchar(255), "key" varchar(255), val json),
//   index addon_settings_client_key_key ("clientKey", "key")
//
// ACE keeps a tenant as the row key = 'clientInfo' whose val is the install payload
// (lib/store/sequelize.js; postInstallation() saves req.body of /installed as it is), so the row
// written here is what a real install would have left. Prints the URL on stdout. The token is
// what Confluence puts in an iframe URL: iss = clientKey, sub = the user's account id, HS256
// with the shared secret, qsh of GET /connect/share-panel and its query (atlassian-jwt, as ACE
// computes it). --ttl sets exp (default 3600: a benchmark outlives Confluence's 3 minutes; ACE
// checks exp but not how far iat and exp are apart). --tamper signature flips a bit of the
// signature; --tamper query changes contentId after signing (the qsh no longer matches).
"use strict";

const crypto = require("crypto");
const { Client } = require("pg");
const jwt = require("atlassian-jwt");

function usage() {
  console.error("usage: node seed.js BASE_URL [--ttl SECONDS] [--tamper signature|query]");
  process.exit(2);
}

const args = process.argv.slice(2);
const baseUrl = args.shift();
if (!baseUrl || !/^https?:\/\//.test(baseUrl)) usage();
let ttl = 3600;
let tamper = null;
while (args.length) {
  const flag = args.shift();
  if (flag === "--ttl") ttl = Number(args.shift());
  else if (flag === "--tamper") tamper = args.shift();
  else usage();
}
if (!Number.isInteger(ttl) || ttl <= 0) usage();
if (tamper !== null && tamper !== "signature" && tamper !== "query") usage();

const dbUrl = process.env.DB_URL || "postgres://postgres@127.0.0.1:5432/ace_bench";
const clientKey = "ace-bench-5fd7c0b2-8c5e-4d1a-9a55-2f0f5e3c7a11";
const hostBaseUrl = "https://acme.atlassian.net/wiki";
const tenant = {
  key: "pageshare-ace-bench",
  clientKey,
  sharedSecret: null, // set below: from the stored row when there is one
  serverVersion: "6452",
  pluginsVersion: "1001.0.0-SNAPSHOT",
  baseUrl: hostBaseUrl,
  displayUrl: hostBaseUrl,
  productType: "confluence",
  description: "Atlassian Confluence at https://acme.atlassian.net/wiki",
  eventType: "installed"
};

async function main() {
  const db = new Client({ connectionString: dbUrl });
  await db.connect();
  try {
    // Keep the secret of an earlier seed, so URLs minted before stay valid.
    const stored = await db.query(
      `SELECT val FROM "AddonSettings" WHERE "clientKey" = $1 AND "key" = 'clientInfo'`,
      [clientKey]
    );
    const previous = stored.rows.length ? stored.rows[0].val : null;
    tenant.sharedSecret =
      (previous && previous.sharedSecret) || crypto.randomBytes(32).toString("hex");
    if (!previous) {
      await db.query(
        `INSERT INTO "AddonSettings" ("clientKey", "key", val) VALUES ($1, 'clientInfo', $2)`,
        [clientKey, JSON.stringify(tenant)]
      );
    }
  } finally {
    await db.end();
  }

  const base = baseUrl.replace(/\/+$/, "");
  const path = "/connect/share-panel";
  const query = "contentId=1234567&spaceKey=DOC";
  const now = Math.floor(Date.now() / 1000);
  const qsh = jwt.createQueryStringHash(
    jwt.fromMethodAndUrl("GET", `${path}?${query}`),
    false,
    `${base}/`
  );
  let token = jwt.encodeSymmetric(
    {
      iss: clientKey,
      sub: "557058:f2b7a9c4-1d2e-4f3a-8b9c-0d1e2f3a4b5c",
      iat: now,
      exp: now + ttl,
      qsh
    },
    tenant.sharedSecret,
    jwt.SymmetricAlgorithm.HS256
  );
  let signedQuery = query;
  if (tamper === "signature") {
    const dot = token.lastIndexOf(".");
    const sig = Buffer.from(token.slice(dot + 1), "base64url");
    sig[0] ^= 1;
    token = `${token.slice(0, dot + 1)}${sig.toString("base64url")}`;
  } else if (tamper === "query") {
    signedQuery = query.replace("contentId=1234567", "contentId=7654321");
  }
  process.stdout.write(`${base}${path}?${signedQuery}&jwt=${token}\n`);
}

main().catch(err => {
  console.error(`seed.js: ${err.message}`);
  process.exit(1);
});
