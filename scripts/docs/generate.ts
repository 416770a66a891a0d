/**
 * `npm run generate:docs`: rewrites docs/configuration.md's tables from the settings registries
 * (scripts/lib/configuration.ts). The static tier fails while the checked-in page differs.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '#local-runtime/project.cjs';
import { configurationTables, withTables } from '../lib/configuration';

const page = path.join(PROJECT_ROOT, 'docs', 'configuration.md');
writeFileSync(page, withTables(readFileSync(page, 'utf8'), configurationTables()));
console.log(`wrote ${path.relative(PROJECT_ROOT, page)}`);
