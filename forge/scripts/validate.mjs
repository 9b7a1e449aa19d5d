// Atlassian's own manifest validation (npm @forge/manifest, the FULL processor `forge lint` and
// `forge deploy` run), offline. Usage: node scripts/validate.mjs [MANIFEST]
// Resource folders are resolved next to the manifest, so they must exist (`pageshare forge-ui`).
// Prints every error and warning; exits 1 when there is any.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import manifest from '@forge/manifest';

const { ProcessorBuilder, ValidationTypes } = manifest;
const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const file = path.resolve(process.argv[2] || path.join(root, 'manifest.yml'));
// The validator reads ./manifest.yml and resolves resources against the working directory.
process.chdir(path.dirname(file));
const result = await ProcessorBuilder.instance()
  .withValidation(ValidationTypes.FULL)
  .build()
  .process(file);
const problems = result.errors || [];
for (const problem of problems) {
  const where = problem.line ? `:${problem.line}:${problem.column ?? 0}` : '';
  console.log(`${problem.level} ${path.basename(file)}${where} ${problem.message}`);
}
if (!result.success || problems.length) process.exit(1);
console.log(`${file}: valid`);
