/** A small client over app.inject() for API tests: status and parsed body, with a token. */
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';

/** A parsed JSON body (JSON.parse’s own type). */
export type Json = ReturnType<typeof JSON.parse>;

export interface Reply {
  status: number;
  body: Json;
}

export function client(app: FastifyInstance, defaultToken: () => string | null) {
  const call = async (
    method: string,
    url: string,
    payload?: unknown,
    token = defaultToken(),
  ): Promise<Reply> => {
    const res = await app.inject({
      method: method as 'GET',
      url,
      headers: token ? { 'x-auth-token': token } : {},
      ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
    });
    return { status: res.statusCode, body: res.body ? res.json() : null };
  };
  /** The call, asserted to answer `status` (200 by default); the body. */
  const ok = async (method: string, url: string, payload?: unknown, status = 200): Promise<Json> => {
    const res = await call(method, url, payload);
    assert.equal(res.status, status, `${method} ${url}: ${JSON.stringify(res.body)}`);
    return res.body;
  };
  return { call, ok };
}

/** A token from POST /v3/auth/tokens, or the status when none was issued. */
export async function issue(app: FastifyInstance, auth: unknown): Promise<{ status: number; token: string }> {
  const res = await app.inject({
    method: 'POST',
    url: '/v3/auth/tokens',
    payload: auth as Record<string, unknown>,
  });
  return { status: res.statusCode, token: res.headers['x-subject-token'] as string };
}
