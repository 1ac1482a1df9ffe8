/**
 * The console pages (nginx/html: login, console, pool) in a real browser: headless Chromium
 * (Debian's `chromium`) driven by playwright-core, against the whole stack started by
 * scripts/stack.sh (nginx, the gateway in FastCGI mode, this service, PostgreSQL).
 * SCREENSHOT_DIR=dir keeps the screenshots (the README's come from there).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';

/** The page's document, in the functions that run in the browser (this package has no DOM types). */
interface Element {
  textContent: string | null;
}
declare const document: {
  getElementById(id: string): Element | null;
  querySelectorAll(selector: string): Iterable<Element>;
};

const root = fileURLToPath(new URL('../../../', import.meta.url));
const script = `${root}/scripts/stack.sh`;
const CHROMIUM = '/usr/bin/chromium';
const stack = (args: string[]) => spawnSync(script, args, { cwd: root, encoding: 'utf8', timeout: 120_000 });

describe('the console in headless Chromium', {
  skip: !existsSync(CHROMIUM) ? `${CHROMIUM} is absent (apt-get install chromium)` : false,
}, () => {
  let url = '';
  let password = '';
  let browser: Browser;
  let page: Page;
  const shots = process.env.SCREENSHOT_DIR ?? mkdtempSync(join(tmpdir(), 'console-shots-'));
  const shot = (name: string) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });

  before(async () => {
    const started = stack(['start', '--protocol', 'fastcgi']);
    assert.equal(started.status, 0, started.stderr);
    url = /^GATEHOUSE_URL=(.*)$/m.exec(started.stdout)?.[1] ?? '';
    password = /^export OS_PASSWORD=(.*)$/m.exec(started.stdout)?.[1] ?? '';
    // Chromium's sandbox needs a non-root user; CI runs as root.
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  });
  after(async () => {
    await browser?.close();
    stack(['stop']);
    if (!process.env.SCREENSHOT_DIR) rmSync(shots, { recursive: true, force: true });
  });

  const login = async (pw: string) => {
    await page.goto(`${url}/login.html`);
    await page.fill('input[name=password]', pw);
    await page.click('button[type=submit]');
    await page.waitForFunction(() => document.getElementById('result-title')?.textContent !== 'Asking…');
  };

  test("a failed login shows the API's own message", async () => {
    // What the API answers to a wrong password, asked directly.
    const direct = await fetch(`${url}/v3/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { name: 'admin', domain: { name: 'Default' }, password: 'wrong' } },
          },
        },
      }),
    });
    const { error } = (await direct.json()) as { error: { code: number; title: string; message: string } };
    await login('wrong');
    assert.equal(await page.textContent('#result-title'), `${error.code} ${error.title}`);
    assert.match(
      (await page.textContent('#result-facts')) ?? '',
      new RegExp(error.message.replace(/[.?()]/g, '\\$&')),
    );
    await shot('login-failed');
  });

  test('the admin creates a project and a user, grants a role and sees it in the assignments', async () => {
    await login(password);
    assert.match((await page.textContent('#result-title')) ?? '', /^Logged in as admin/);
    await page.goto(`${url}/console.html`);
    await page.waitForSelector('body[data-ready=true]');
    assert.match((await page.textContent('#who')) ?? '', /^admin on project admin/);

    await page.fill('#project-form input[name=name]', 'console-project');
    await page.click('#project-form button');
    await page.waitForSelector('#projects tr:has-text("console-project")');

    await page.fill('#user-form input[name=name]', 'console-user');
    await page.fill('#user-form input[name=password]', 'console user password');
    await page.click('#user-form button');
    await page.waitForSelector('#users tr:has-text("console-user")');

    await page.selectOption('#grant-user', { label: 'console-user' });
    await page.selectOption('#grant-role', { label: 'member' });
    await page.selectOption('#grant-project', { label: 'console-project' });
    await page.click('#grant-form button');
    await page.waitForSelector(
      '#assignments tr[data-assignment="console-user|member|project console-project"]',
    );

    // The same project again: the API's 409, worded as the API words it.
    await page.fill('#project-form input[name=name]', 'console-project');
    await page.click('#project-form button');
    await page.waitForSelector('#error:not([hidden])');
    assert.match(
      (await page.textContent('#error')) ?? '',
      /^409 Conflict: Conflict occurred attempting to store project/,
    );
    await shot('console-admin');
  });

  test('an application credential is created, its secret shown once, and deleted', async () => {
    await page.fill('#appcred-form input[name=name]', 'console-credential');
    await page.click('#appcred-form button');
    await page.waitForSelector('#appcred-secret:not([hidden])');
    const secret = (await page.textContent('#appcred-secret-value')) ?? '';
    assert.ok(secret.length >= 32, 'the secret is shown');
    await page.waitForSelector('#appcreds tr:has-text("console-credential")');
    await shot('console-application-credential');
    // The secret is not shown again once the page reloads.
    await page.reload();
    await page.waitForSelector('body[data-ready=true]');
    await page.waitForSelector('#appcreds tr:has-text("console-credential")');
    assert.equal(await page.isVisible('#appcred-secret'), false);
    assert.ok(!(await page.content()).includes(secret));
    await page.click('#appcreds tr:has-text("console-credential") button:has-text("Delete")');
    await page.waitForSelector('#appcreds tr:has-text("console-credential")', { state: 'detached' });
    assert.match((await page.textContent('#notice')) ?? '', /console-credential deleted/);
  });

  test('the pool page refreshes by itself and shows the requests served', async () => {
    await page.goto(`${url}/pool.html`);
    await page.waitForSelector('#workers tr');
    const served = () =>
      page.$$eval('#workers td.requests', (cells) => cells.reduce((n, c) => n + Number(c.textContent), 0));
    const before = await served();
    const refreshes = Number(await page.textContent('#refreshes'));
    for (let i = 0; i < 5; i++) assert.equal((await fetch(`${url}/v3`)).status, 200);
    // No reload: the page reads the status again on its own and shows the new requests.
    await page.waitForFunction(
      ([n, r]) =>
        [...document.querySelectorAll('#workers td.requests')].reduce(
          (s, c) => s + Number(c.textContent),
          0,
        ) >=
          (n as number) + 5 && Number(document.getElementById('refreshes')?.textContent) > (r as number),
      [before, refreshes],
    );
    assert.ok((await served()) >= before + 5);
    await shot('pool');
  });
});
