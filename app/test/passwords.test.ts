/**
 * Password hashing on its own low-priority threads: both stored formats verify, wrong passwords
 * and unknown formats fail, and on Linux the hashing thread (and only it) runs at the configured
 * niceness while the event loop keeps the process's priority.
 */
import assert from 'node:assert/strict';
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { configureHashing, hashPassword, verifyPassword } from '../src/identity/passwords.js';

/** Niceness of each thread of this process, from /proc/self/task/TID/stat (field 19). */
function threadNiceness(): Map<number, number> {
  const result = new Map<number, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    result.set(Number(tid), Number(fields[16]));
  }
  return result;
}

describe('password hashing threads', () => {
  after(() => configureHashing({ concurrency: 1, nice: 10 }));

  test('bcrypt hashes verify; a wrong password does not', async () => {
    configureHashing({ concurrency: 2, nice: 10 });
    const hash = await hashPassword('correct horse', { algorithm: 'bcrypt', rounds: 4 });
    assert.match(hash, /^\$2b\$04\$[./A-Za-z0-9]{53}$/);
    assert.equal(await verifyPassword('correct horse', hash), true);
    assert.equal(await verifyPassword('correct horsE', hash), false);
  });

  test("pbkdf2_sha512 in passlib's format verifies, including one made elsewhere", async () => {
    const hash = await hashPassword('s3cret', { algorithm: 'pbkdf2_sha512', rounds: 1000 });
    assert.match(hash, /^\$pbkdf2-sha512\$1000\$[./A-Za-z0-9]+\$[./A-Za-z0-9]{86}$/);
    assert.equal(await verifyPassword('s3cret', hash), true);
    // Built here by hand the way passlib writes it: ab64 salt and checksum, no padding.
    const salt = randomBytes(16);
    const ab64 = (b: Buffer) => b.toString('base64').replaceAll('+', '.').replace(/=+$/, '');
    const sum = pbkdf2Sync('other', salt, 1200, 64, 'sha512');
    const foreign = `$pbkdf2-sha512$1200$${ab64(salt)}$${ab64(sum)}`;
    assert.equal(await verifyPassword('other', foreign), true);
    assert.equal(await verifyPassword('Other', foreign), false);
  });

  test('a hash of no known format, or a mangled one, verifies nothing and throws nothing', async () => {
    assert.equal(await verifyPassword('x', 'plain text'), false);
    assert.equal(await verifyPassword('x', '$pbkdf2-sha512$abc$$'), false);
    assert.equal(await verifyPassword('x', '$pbkdf2-sha512$0$c2FsdA$'), false);
  });

  test('many jobs at once all finish, on exactly as many threads as configured', async () => {
    const own = threadNiceness().get(process.pid) as number;
    configureHashing({ concurrency: 2, nice: 10 });
    const before = new Set(threadNiceness().keys());
    const hashes = await Promise.all(
      Array.from({ length: 6 }, (_, i) => hashPassword(`p${i}`, { algorithm: 'bcrypt', rounds: 4 })),
    );
    const results = await Promise.all(hashes.map((h, i) => verifyPassword(`p${i}`, h)));
    assert.deepEqual(results, [true, true, true, true, true, true]);
    const nicer = Math.min(19, own + 10);
    const added = [...threadNiceness()].filter(([tid, nice]) => !before.has(tid) && nice === nicer);
    assert.equal(added.length, 2, `two new hashing threads at niceness ${nicer}`);
  });

  test('on Linux the hashing thread runs at the configured niceness, the event loop does not', {
    skip: existsSync('/proc/thread-self') ? false : 'no per-thread priorities on this system',
  }, async () => {
    const own = threadNiceness().get(process.pid) as number;
    configureHashing({ concurrency: 1, nice: 7 });
    await hashPassword('x', { algorithm: 'bcrypt', rounds: 4 });
    const niceness = threadNiceness();
    assert.equal(niceness.get(process.pid), own, 'the main thread keeps its priority');
    const expected = Math.min(19, own + 7);
    assert.ok(
      [...niceness.values()].includes(expected),
      `a thread at niceness ${expected}: ${JSON.stringify([...niceness])}`,
    );
  });
});
