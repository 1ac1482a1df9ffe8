// Builds every workspace that has TypeScript sources (tsc -b refuses a project with none).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';

const hasSources = (dir) =>
  existsSync(dir) && readdirSync(dir, { recursive: true }).some((f) => String(f).endsWith('.ts'));
const projects = ['gateway', 'app'].filter((p) => hasSources(`${p}/src`));
execFileSync('npx', ['tsc', '-b', ...projects], { stdio: 'inherit' });
