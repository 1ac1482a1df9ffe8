/** /v3/domains: create, list (name, enabled and the name__* filters), show, update, delete. */
import type { FastifyInstance } from 'fastify';
import { validation as validationError } from '../errors.js';
import type { DomainFields, DomainRecord } from '../resource/service.js';
import { description, extraOf, name, resourceOptions, tagList } from './collection.js';
import type { PluginOptions } from './context.js';
import { renderDomain } from './render.js';
import { crud, type Of, object } from './resource.js';

const KNOWN = ['name', 'description', 'enabled', 'tags', 'options'] as const;
const domainSchema = object(
  { name: name(64), description, enabled: { type: 'boolean' }, tags: tagList, options: resourceOptions },
  ['name'],
);
type DomainMember = Of<typeof domainSchema>;

function fieldsOf(body: Partial<DomainMember>): Partial<DomainFields> {
  return {
    ...(body.name === undefined ? {} : { name: body.name }),
    ...(body.description === undefined ? {} : { description: body.description ?? '' }),
    ...(body.enabled === undefined ? {} : { enabled: body.enabled }),
    ...(body.tags === undefined ? {} : { tags: body.tags }),
    ...(body.options === undefined ? {} : { options: body.options as DomainFields['options'] }),
    extra: extraOf(body, KNOWN),
  };
}

export async function domainRoutes(app: FastifyInstance, { services }: PluginOptions): Promise<void> {
  const { resource } = services;
  crud<DomainRecord, DomainMember>(app, services, {
    path: '/v3/domains',
    member: 'domain',
    collection: 'domains',
    body: { schema: domainSchema },
    load: (id) => resource.getDomain(id),
    render: renderDomain,
    filters: { exact: ['name'], bool: ['enabled'], inexact: ['name'] },
    rows: (_request, hints) => resource.listDomains(hints),
    create: (domain) => {
      const fields = fieldsOf(domain);
      return resource.createDomain({ ...fields, name: fields.name as string });
    },
    update: (current, domain) => {
      if (domain.id !== undefined && domain.id !== current.id)
        throw validationError('Cannot change the domain ID.');
      return resource.updateDomain(current.id, fieldsOf(domain));
    },
    remove: (id) => resource.deleteDomain(id),
  });
}
