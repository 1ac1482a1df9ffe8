/**
 * Dependencies point one way (ARCHITECTURE.md): no module of the gateway or the app imports,
 * through any chain, a module that imports it back. scripts/import-cycles.mjs reads the import
 * graph of the TypeScript sources (type-only imports and re-exports included) and fails on a
 * cycle; these tests run it on both packages, and on small trees that show it can fail.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const script = path.join(root, 'scripts/import-cycles.mjs');

function check(...dirs: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...dirs], { cwd: root }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
    );
  });
}

describe('import graph', () => {
  for (const dir of ['gateway/src', 'app/src']) {
    test(`${dir} has no import cycle`, async () => {
      const { code, stdout, stderr } = await check(dir);
      assert.equal(stdout, '', 'the cycles found');
      assert.equal(stderr, '');
      assert.equal(code, 0);
    });
  }

  describe('the check', () => {
    const tree = mkdtempSync(path.join(tmpdir(), 'import-graph-'));
    after(() => rmSync(tree, { recursive: true, force: true }));
    const write = (dir: string, files: Record<string, string>) => {
      for (const [name, text] of Object.entries(files)) {
        mkdirSync(path.dirname(path.join(tree, dir, name)), { recursive: true });
        writeFileSync(path.join(tree, dir, name), text);
      }
      return path.join(tree, dir);
    };

    test('fails on a cycle of type-only imports and names its modules in order', async () => {
      const dir = write('types', {
        'token/cache.ts': "import type { Context } from './service.js';\nexport type Cache = Context[];\n",
        'token/service.ts':
          "import type { Users } from '../identity/service.js';\nexport interface Context { users: Users }\n",
        'identity/service.ts':
          "import type { Cache } from '../token/cache.js';\nexport type Users = Cache;\n",
        'leaf.ts': "import type { Cache } from './token/cache.js';\nexport const n: Cache = [];\n",
      });
      const { code, stdout } = await check(dir);
      assert.equal(code, 1);
      const lines = stdout.trim().split('\n');
      assert.equal(lines.length, 2, stdout);
      const rel = (f: string) => path.relative(root, path.join(dir, f));
      assert.equal(
        lines[0],
        `import cycle: ${rel('identity/service.ts')} -> ${rel('token/cache.ts')} -> ${rel('token/service.ts')} -> ${rel('identity/service.ts')}`,
      );
      assert.match(lines[1] as string, /^ {2}3 modules import each other: /);
      assert.doesNotMatch(stdout, /leaf\.ts/);
    });

    test('fails on a cycle made by a re-export, a multi-line import and a self-import', async () => {
      const dir = write('forms', {
        'a.ts': "export { b } from './b.js';\nexport const a = 1;\n",
        'b.ts': "import {\n  a,\n} from './a.js';\nexport const b = a;\n",
        'self.ts': "import * as me from './self.js';\nexport const self = me;\n",
      });
      const { code, stdout } = await check(dir);
      assert.equal(code, 1);
      assert.match(stdout, /a\.ts -> .*b\.ts -> .*a\.ts\n/);
      assert.match(stdout, /self\.ts -> .*self\.ts\n/);
    });

    test('passes a tree whose imports only point one way, comments and packages aside', async () => {
      const dir = write('one-way', {
        'top.ts':
          "import { low } from './low/index.js';\nimport pg from 'pg';\nexport const top = [low, pg];\n",
        'low/index.ts':
          "// import { top } from '../top.js';\n/* import '../top.js'; */\nexport const low = 1;\n",
      });
      assert.deepEqual(await check(dir), { code: 0, stdout: '', stderr: '' });
    });
  });
});
