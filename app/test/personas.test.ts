/** The protection-test personas (personas.ts): each token validates with its scope and roles. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { build } from '../src/app.js';
import { type TestDatabase, testDatabase } from './helpers.js';
import { createPersonas, PERSONAS, type Personas } from './personas.js';

let t: TestDatabase;
let app: FastifyInstance;
let p: Personas;

before(async () => {
  t = await testDatabase();
  p = await createPersonas(t);
  app = await build({ config: t.config, db: t.db });
});
after(async () => {
  await app.close();
  await t.drop();
});

test('every persona token validates with the scope and roles its table row names', async () => {
  const expected: Record<string, { scope: string; roles: string[] }> = {
    system_admin: { scope: 'system', roles: ['admin', 'manager', 'member', 'reader'] },
    system_reader: { scope: 'system', roles: ['reader'] },
    domain_admin: { scope: `domain:${p.domainId}`, roles: ['admin', 'manager', 'member', 'reader'] },
    domain_manager: { scope: `domain:${p.domainId}`, roles: ['manager', 'member', 'reader'] },
    domain_reader: { scope: `domain:${p.domainId}`, roles: ['reader'] },
    project_admin: { scope: `project:${p.projectId}`, roles: ['admin', 'manager', 'member', 'reader'] },
    project_manager: { scope: `project:${p.projectId}`, roles: ['manager', 'member', 'reader'] },
    project_member: { scope: `project:${p.projectId}`, roles: ['member', 'reader'] },
    project_reader: { scope: `project:${p.projectId}`, roles: ['reader'] },
    own_user: { scope: `project:${p.ownProjectId}`, roles: ['member', 'reader'] },
    other_user: { scope: `project:${p.otherProjectId}`, roles: ['member', 'reader'] },
  };
  for (const persona of PERSONAS) {
    if (persona === 'no_token') {
      assert.deepEqual(p.headers(persona), {});
      continue;
    }
    const token = p.tokens[persona] as string;
    const res = await app.inject({
      method: 'GET',
      url: '/v3/auth/tokens',
      headers: { 'x-auth-token': token, 'x-subject-token': token },
    });
    assert.equal(res.statusCode, 200, persona);
    const body = res.json().token;
    assert.equal(body.user.id, p.userIds[persona], persona);
    const scope = body.system
      ? 'system'
      : body.domain
        ? `domain:${body.domain.id}`
        : `project:${body.project.id}`;
    assert.equal(scope, expected[persona]?.scope, persona);
    assert.deepEqual(
      body.roles.map((r: { name: string }) => r.name).sort(),
      expected[persona]?.roles,
      persona,
    );
  }
});
