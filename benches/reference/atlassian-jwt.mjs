// Full Connect JWT verification with Atlassian's Node library (atlassian-jwt 2.0.3): the same
// iframe request as benches/hot_paths.rs. `npm ci --prefix benches/reference && node benches/reference/atlassian-jwt.mjs`
import jwt from 'atlassian-jwt';

const secret = '3b7ef0b1-6c2e-4a53-9c2a-4f5c1b2a0d9e-shared-secret-of-the-tenant';
const query = 'contentId=1234567&spaceKey=DOC&xdm_e=https%3A%2F%2Facme.atlassian.net'
  + '&xdm_c=channel-pageshare__pageshare-share&cp=%2Fwiki&xdm_deprecated_addon_key_do_not_use=pageshare'
  + '&lic=active&cv=1001.0.0-SNAPSHOT&user_locale=en-GB&tz=Europe%2FLondon';
const request = jwt.fromMethodAndUrl('GET', `/connect/share-panel?${query}`);
const now = Math.floor(Date.now() / 1000);
const token = jwt.encodeSymmetric({
  iss: 'acme-5fd7c0b2-8c5e-4d1a-9a55-2f0f5e3c7a11',
  sub: '557058:f2b7a9c4-1d2e-4f3a-8b9c-0d1e2f3a4b5c',
  iat: now - 10,
  exp: now + 170,
  qsh: jwt.createQueryStringHash(request),
}, secret);
const signed = jwt.fromMethodAndUrl('GET', `/connect/share-panel?${query}&jwt=${token}`);

function verifyOnce() {
  const claims = jwt.decodeSymmetric(token, secret, jwt.SymmetricAlgorithm.HS256);
  if (claims.qsh !== jwt.createQueryStringHash(signed)) throw new Error('qsh');
  if (claims.exp < now) throw new Error('exp');
}

for (let i = 0; i < 20000; i++) verifyOnce();
const rounds = 5;
const perRound = 100000;
const results = [];
for (let r = 0; r < rounds; r++) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < perRound; i++) verifyOnce();
  results.push(Number(process.hrtime.bigint() - start) / perRound / 1000);
}
results.sort((a, b) => a - b);
console.log(`atlassian-jwt 2.0.3, full verification: median ${results[2].toFixed(2)} µs per token (min ${results[0].toFixed(2)}, max ${results[4].toFixed(2)})`);
