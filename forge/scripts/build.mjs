// Bundle @forge/bridge for the Custom UI: writes forge-bridge.js into each resource folder given
// (default: static/panel and static/admin, which `pageshare forge-ui static` fills first).
// Usage: node scripts/build.mjs [DIR...]
import { build } from 'esbuild';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const dirs = process.argv.slice(2);
const targets = dirs.length ? dirs : ['static/panel', 'static/admin'].map((d) => path.join(root, d));

for (const dir of targets) {
  if (!existsSync(path.join(dir, 'index.html'))) {
    console.error(`${dir} has no index.html: run \`pageshare forge-ui ${path.dirname(dir)}\` first`);
    process.exit(1);
  }
  await build({
    entryPoints: [path.join(root, 'src/bridge.js')],
    outfile: path.join(dir, 'forge-bridge.js'),
    bundle: true,
    minify: true,
    format: 'iife',
    target: 'es2020',
    legalComments: 'none',
    logLevel: 'warning',
  });
  console.log(`${path.join(dir, 'forge-bridge.js')} written`);
}
