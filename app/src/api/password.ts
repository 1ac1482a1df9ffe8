/**
 * POST /v3/users/{user_id}/password: a user changes their own password. Unenforced, as in
 * Keystone: the original password is the credential, so it works with an expired password.
 */
import type { FastifyInstance } from 'fastify';
import { clientGone, type PluginOptions } from './context.js';

const schema = {
  params: { type: 'object', properties: { user_id: { type: 'string', minLength: 1, maxLength: 64 } } },
  body: {
    type: 'object',
    required: ['user'],
    properties: {
      user: {
        type: 'object',
        required: ['password', 'original_password'],
        properties: {
          password: { type: 'string', minLength: 1 },
          original_password: { type: 'string', minLength: 1 },
        },
      },
    },
  },
} as const;

export async function passwordRoutes(app: FastifyInstance, { services }: PluginOptions): Promise<void> {
  app.post<{ Params: { user_id: string }; Body: { user: { password: string; original_password: string } } }>(
    '/v3/users/:user_id/password',
    { schema },
    async (request, reply) => {
      const { password, original_password } = request.body.user;
      await services.identity.changePassword(
        request.params.user_id,
        original_password,
        password,
        clientGone(reply),
      );
      reply.code(204).send();
    },
  );
}
