/**
 * One way to declare the routes of a resource family. A route is data: method, path, the policy
 * action, JSON schemas (the handler's types are derived from them), the policy target, the status;
 * `crud()` declares Keystone's usual five (list, create, show, update, delete) from a family's
 * collection and member names, its loader and its renderer; `relation()` the PUT/HEAD/DELETE
 * (and GET) of a link between two objects, such as a group's member or a project's tag. HEAD is
 * answered for every GET (fastify's exposeHeadRoutes). Hand-written handlers stay where Keystone
 * really differs (auth, grants, role assignments).
 *
 *   crud(app, services, {
 *     path: '/v3/groups', member: 'group', collection: 'groups',
 *     actions: { list: 'identity:list_groups', create: …, get: …, update: …, delete: … },
 *     properties: { name: name(64), domain_id: bodyId, description }, required: ['name'],
 *     load: (id) => identity.getGroup(id), render: renderGroup,
 *     list: (request) => identity.listGroups(…), create: (group, request) => identity.createGroup(…),
 *     update: (current, group) => identity.updateGroup(…), remove: (id) => identity.deleteGroup(id),
 *   });
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { FromSchema, JSONSchema } from 'json-schema-to-ts';
import { notFound } from '../errors.js';
import { buildHints, type Hint } from '../hints.js';
import type { PolicyTarget } from '../policy/enforcer.js';
import { type Action, defaults } from '../policy/rules.js';
import type { Services } from '../services.js';
import { credentialsOf, type TokenContext } from '../token/service.js';
import { id64, renderedCollection } from './collection.js';
import { authenticateCaller, type TargetOf } from './context.js';

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD';
type Schema = JSONSchema & object;
/** The value a schema describes (unknown without one). */
export type Of<S> = S extends Schema ? Plain<FromSchema<S>> : unknown;
/** A derived type as a plain object type, so that comparing it does not re-run the derivation. */
type Plain<T> = T extends object ? { [K in keyof T]: T[K] } : T;

/** Path parameters are strings, one per property of their schema. */
type ParamsOf<P> = P extends { properties: infer Props } ? { [K in keyof Props]: string } : unknown;

/**
 * A route's request: typed path parameters, the validated caller. A body or query a route
 * declares is read as `Of<typeof schema>` where the route needs its type.
 */
export type Req<P = unknown> = FastifyRequest<{ Params: ParamsOf<P> }> & { caller: TokenContext };

export interface Route<P = unknown> {
  method: Method;
  path: string;
  /** The policy action, or one chosen per request (domain roles have their own actions). */
  action: Action | ((request: Req) => Action | Promise<Action>);
  params?: P;
  body?: Schema;
  query?: Schema;
  /** What the rule's %(target.…)s read; {} by default. */
  target?: (request: Req) => PolicyTarget | Promise<PolicyTarget>;
  /** 200 by default; with 204 (or a handler returning undefined) nothing is sent. */
  status?: number;
  handle: (request: Req<NoInfer<P>>, reply: FastifyReply) => unknown;
}

/** Declares one route: schema, authentication and policy in a preHandler, the handler. */
export function route<P = undefined>(app: FastifyInstance, services: Services, spec: Route<P>): void {
  const schema: Record<string, unknown> = {};
  if (spec.params) schema.params = spec.params;
  if (spec.body) schema.body = spec.body;
  if (spec.query) schema.querystring = spec.query;
  app.route({
    method: spec.method,
    url: spec.path,
    schema,
    preHandler: async (request) => {
      // The schemas were checked before this runs: the request is of the route's types.
      const typed = request as never;
      const caller = await authenticateCaller(request, services);
      const action = typeof spec.action === 'function' ? await spec.action(typed) : spec.action;
      services.policy.enforce(action, credentialsOf(caller), spec.target ? await spec.target(typed) : {});
    },
    handler: async (request, reply) => {
      const body = await spec.handle(request as never, reply);
      if (reply.sent) return reply;
      reply.code(spec.status ?? 200);
      if (spec.status === 204 || body === undefined) return reply.send();
      if (body instanceof RawJson) return reply.type('application/json; charset=utf-8').send(body.text);
      return body;
    },
  });
}

/** A body already serialised (a cached list): sent as it is, as JSON. */
export class RawJson {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}
export const rawJson = (text: string) => new RawJson(text);

/** The helpers' own routes, whose types are the family's, not the schemas'. */
const untyped = (app: FastifyInstance, services: Services, spec: Route<unknown>) =>
  route<unknown>(app, services, spec);

/** A route that takes an untyped target loader as context.ts's enforce() does. */
export const targetOf =
  (loader: TargetOf) =>
  (request: Req): Promise<PolicyTarget> | PolicyTarget =>
    loader(request, request.caller);

/** `{type:'object', required:[key], properties:{[key]: {…member}}}`: Keystone's request envelope. */
export function envelope<const K extends string, const M extends Schema>(key: K, member: M) {
  return {
    type: 'object',
    required: [key],
    properties: { [key]: member } as { [k in K]: M },
  } as const;
}

/** An object schema from its properties and required names (the rest are kept as `extra`). */
export function object<const Props extends Record<string, Schema>, const R extends readonly string[] = []>(
  properties: Props,
  required?: R,
) {
  return { type: 'object', properties, required: (required ?? []) as R } as const;
}

/** `{ <name>: id64 }` path parameters. */
export function pathParams<const N extends string>(...names: N[]) {
  return {
    type: 'object',
    properties: Object.fromEntries(names.map((n) => [n, id64])) as { [k in N]: typeof id64 },
    required: names,
  } as const;
}

export interface Crud<Row, F> {
  /** The collection's path: '/v3/groups'. */
  path: string;
  /** The body key of one (`group`) and of the list (`groups`). */
  member: string;
  collection: string;
  /** The member's path parameter; `${member}_id` by default. */
  id?: string;
  /**
   * The policy action of each route; by default Keystone's names, identity:list_<collection>,
   * identity:create_<member>, get_, update_, delete_ (a route is declared when its handler is given).
   */
  actions?: { list?: Action; create?: Action; get?: Action; update?: Action; delete?: Action };
  /**
   * The member's schema as a create request gives it (`object(properties, required)`; an update's
   * requires none). F is the type it describes, `Of<typeof schema>`, named by the family:
   * `crud<Row, F>(…)` (inferring it through the schema costs the compiler too much).
   */
  body: { schema: Schema };
  /** An update's member schema, when it is not the create's with nothing required. */
  updateSchema?: Schema;
  /** The list's query parameters, when they are checked. */
  query?: Schema;
  /** The id's schema in the path (id64 by default). */
  idSchema?: Schema;
  /** The stored object by id, or null: the policy target, and GET's answer. */
  load?: (id: string) => Promise<Row | null>;
  /** The stored object by id or the family's own 404 (by default load() and Keystone's "Could not find"). */
  require?: (id: string) => Promise<Row>;
  render: (row: Row, base: string) => unknown;
  /** The target of the member routes; `{ [member]: load(id) ?? {} }` by default. */
  memberTarget?: (request: Req) => PolicyTarget | Promise<PolicyTarget>;
  listTarget?: (request: Req) => PolicyTarget | Promise<PolicyTarget>;
  createTarget?: (fields: F, request: Req) => PolicyTarget;
  /**
   * The list's rows: GET on the collection answers them rendered, in Keystone's envelope.
   * `hints` are the query parameters named in `filters`.
   */
  rows?: (request: Req, hints: Hint[]) => Promise<Row[]>;
  /** The query parameters the list filters on, by kind (see buildHints). */
  filters?: Parameters<typeof buildHints>[1];
  /** The list's whole body instead of `rows` (already an envelope), so a family can cache it. */
  list?: (request: Req) => Promise<unknown>;
  create?: (fields: F, request: Req) => Promise<Row>;
  update?: (current: Row, fields: Partial<F>, request: Req) => Promise<Row>;
  remove?: (id: string, request: Req) => Promise<void>;
}

const known = new Set(defaults.map((rule) => rule.name));

/** Keystone's five routes of a family (those whose handler is given). */
export function crud<Row, F>(app: FastifyInstance, services: Services, spec: Crud<Row, F>): void {
  const idName = spec.id ?? `${spec.member}_id`;
  const memberPath = `${spec.path}/:${idName}`;
  const params = spec.idSchema
    ? { type: 'object', properties: { [idName]: spec.idSchema }, required: [idName] }
    : pathParams(idName);
  const idOf = (request: FastifyRequest) => (request.params as Record<string, string>)[idName] as string;
  const load = spec.load ?? (async () => null);
  const memberTarget =
    spec.memberTarget ?? (async (request: Req) => ({ [spec.member]: (await load(idOf(request))) ?? {} }));
  const required =
    spec.require ??
    (async (id: string) => {
      const row = await load(id);
      if (!row) throw notFound(spec.member, id);
      return row;
    });
  const named = (verb: string, noun: string): Action => {
    const action = `identity:${verb}_${noun}`;
    if (!known.has(action)) throw new Error(`${spec.path}: no policy rule ${action}; name the action`);
    return action as Action;
  };
  // A family's own action names stand in for Keystone's usual ones (checked only when not given).
  const given = spec.actions ?? {};
  const actions = {
    list: given.list ?? named('list', spec.collection),
    create: given.create ?? named('create', spec.member),
    get: given.get ?? named('get', spec.member),
    update: given.update ?? named('update', spec.member),
    delete: given.delete ?? named('delete', spec.member),
  };

  const list = spec.list ?? (spec.rows ? renderedList(spec, spec.rows) : undefined);
  if (list) {
    untyped(app, services, {
      method: 'GET',
      path: spec.path,
      action: actions.list,
      ...(spec.listTarget ? { target: spec.listTarget } : {}),
      ...(spec.query ? { query: spec.query } : {}),
      handle: (request) => list(request),
    });
  }
  if (spec.create) {
    const create = spec.create;
    const createTarget = spec.createTarget;
    const body = envelope(spec.member, spec.body.schema);
    untyped(app, services, {
      method: 'POST',
      path: spec.path,
      action: actions.create,
      body,
      target: (request) => {
        const fields = (request.body as Record<string, unknown>)[spec.member];
        return createTarget ? createTarget(fields as never, request as Req) : { [spec.member]: fields };
      },
      status: 201,
      handle: async (request) => {
        const fields = (request.body as Record<string, unknown>)[spec.member];
        const row = await create(fields as never, request as Req);
        return { [spec.member]: spec.render(row, request.baseUrl) };
      },
    });
  }
  untyped(app, services, {
    method: 'GET',
    path: memberPath,
    action: actions.get,
    params,
    target: memberTarget as Route['target'],
    handle: async (request) => ({
      [spec.member]: spec.render(await required(idOf(request)), request.baseUrl),
    }),
  });
  if (spec.update) {
    const update = spec.update;
    untyped(app, services, {
      method: 'PATCH',
      path: memberPath,
      action: actions.update,
      params,
      // By default the same properties, none required.
      body: envelope(spec.member, spec.updateSchema ?? { ...spec.body.schema, required: [] }),
      target: memberTarget as Route['target'],
      handle: async (request) => {
        const fields = (request.body as Record<string, unknown>)[spec.member];
        const row = await update(await required(idOf(request)), fields as never, request as Req);
        return { [spec.member]: spec.render(row, request.baseUrl) };
      },
    });
  }
  if (spec.remove) {
    const remove = spec.remove;
    untyped(app, services, {
      method: 'DELETE',
      path: memberPath,
      action: actions.delete,
      params,
      target: memberTarget as Route['target'],
      status: 204,
      handle: (request) => remove(idOf(request), request as Req),
    });
  }
}

/** A policy target with nothing in it: for rules about the caller alone. */
export const noTarget = (): PolicyTarget => ({});

/** The list route of a family that gives its rows: filtered by its hints, rendered, enveloped. */
function renderedList<Row, F>(
  spec: Crud<Row, F>,
  rows: (request: Req, hints: Hint[]) => Promise<Row[]>,
): (request: Req) => Promise<unknown> {
  const { filters } = spec;
  return async (request) => {
    const hints = filters ? buildHints(request.query as Record<string, unknown>, filters) : [];
    return renderedCollection(spec.collection, await rows(request, hints), spec.render, request);
  };
}

export interface Relation {
  /** '/v3/groups/:group_id/users/:user_id' */
  path: string;
  actions: { put?: Action; check?: Action; get?: Action; delete?: Action };
  params: ReturnType<typeof pathParams> | Schema;
  target: (request: Req) => PolicyTarget | Promise<PolicyTarget>;
  put?: (request: Req, reply: FastifyReply) => Promise<unknown>;
  /** Answers HEAD (and GET, when actions.get is given): resolves when the link exists, 404 otherwise. */
  check?: (request: Req) => Promise<void>;
  remove?: (request: Req) => Promise<void>;
  /** PUT's status: 204 by default (Keystone answers a new tag with 201). */
  putStatus?: number;
}

/** A link between two objects: PUT creates it, HEAD/GET check it (204), DELETE removes it. */
export function relation(app: FastifyInstance, services: Services, spec: Relation): void {
  const { actions, params, target } = spec;
  if (spec.put && actions.put) {
    const put = spec.put;
    const status = spec.putStatus ?? 204;
    untyped(app, services, {
      method: 'PUT',
      path: spec.path,
      action: actions.put,
      params,
      target,
      status,
      handle: put,
    });
  }
  if (spec.check) {
    const checkLink = spec.check;
    for (const [method, action] of [
      ['HEAD', actions.check],
      ['GET', actions.get],
    ] as const)
      if (action)
        untyped(app, services, {
          method,
          path: spec.path,
          action,
          params,
          target,
          status: 204,
          handle: (request) => checkLink(request as Req),
        });
  }
  if (spec.remove && actions.delete) {
    const remove = spec.remove;
    untyped(app, services, {
      method: 'DELETE',
      path: spec.path,
      action: actions.delete,
      params,
      target,
      status: 204,
      handle: (request) => remove(request as Req),
    });
  }
}
