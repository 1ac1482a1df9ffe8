/**
 * Keystone 22's mapping schema (keystone/federation/utils.py MAPPING_SCHEMA, Draft 4) and its
 * validate_mapping_structure(): every violation's message, in the order Python sorts them, one a
 * line, in jsonschema's words, so a client sees what Keystone would have said.
 */
import { Ajv, type ErrorObject } from 'ajv';
import { validation } from '../errors.js';

const ROLE_PROPERTIES = {
  type: 'array',
  items: {
    type: 'object',
    required: ['name'],
    // Keystone's schema has additionalProperties among the properties (so it forbids only a
    // property of that name); kept as it is to accept and refuse what Keystone does.
    properties: { name: { type: 'string' }, additionalProperties: false },
  },
} as const;

const remoteRule = (key: string) => ({
  type: 'object',
  additionalProperties: false,
  required: ['type', key],
  properties: { type: { type: 'string' }, [key]: { type: 'array' }, regex: { type: 'boolean' } },
});

export const MAPPING_SCHEMA = {
  type: 'object',
  required: ['rules'],
  properties: {
    rules: {
      minItems: 1,
      type: 'array',
      items: {
        type: 'object',
        required: ['local', 'remote'],
        additionalProperties: false,
        properties: {
          local: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              properties: {
                user: {
                  type: 'object',
                  properties: {
                    id: { type: 'string' },
                    name: { type: 'string' },
                    email: { type: 'string' },
                    domain: { $ref: '#/definitions/domain' },
                    type: { type: 'string', enum: ['ephemeral', 'local'] },
                  },
                  additionalProperties: false,
                },
                projects: {
                  type: 'array',
                  items: {
                    type: 'object',
                    required: ['name', 'roles'],
                    additionalProperties: false,
                    properties: { name: { type: 'string' }, roles: ROLE_PROPERTIES },
                  },
                },
                group: {
                  type: 'object',
                  oneOf: [{ $ref: '#/definitions/group_by_id' }, { $ref: '#/definitions/group_by_name' }],
                },
                groups: { type: 'string' },
                group_ids: { type: 'string' },
                domain: { $ref: '#/definitions/domain' },
              },
            },
          },
          remote: {
            minItems: 1,
            type: 'array',
            items: {
              type: 'object',
              oneOf: [
                { $ref: '#/definitions/empty' },
                { $ref: '#/definitions/any_one_of' },
                { $ref: '#/definitions/not_any_of' },
                { $ref: '#/definitions/blacklist' },
                { $ref: '#/definitions/whitelist' },
              ],
            },
          },
        },
      },
    },
  },
  definitions: {
    empty: {
      type: 'object',
      required: ['type'],
      properties: { type: { type: 'string' } },
      additionalProperties: false,
    },
    any_one_of: remoteRule('any_one_of'),
    not_any_of: remoteRule('not_any_of'),
    blacklist: remoteRule('blacklist'),
    whitelist: remoteRule('whitelist'),
    domain: {
      type: 'object',
      properties: { id: { type: 'string' }, name: { type: 'string' } },
      additionalProperties: false,
    },
    group_by_id: {
      type: 'object',
      properties: { id: { type: 'string' } },
      additionalProperties: false,
      required: ['id'],
    },
    group_by_name: {
      type: 'object',
      properties: { name: { type: 'string' }, domain: { $ref: '#/definitions/domain' } },
      additionalProperties: false,
      required: ['name', 'domain'],
    },
  },
} as const;

const ajv = new Ajv({ allErrors: true, verbose: true, strict: false });
const validate = ajv.compile(MAPPING_SCHEMA);

/** A JSON value as Python's repr() writes the dict, list or scalar json.loads() made of it. */
export function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : pyFloat(value);
  if (typeof value === 'string') return pyString(value);
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`;
  return `{${Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => `${pyString(k)}: ${pyRepr(v)}`)
    .join(', ')}}`;
}

function pyFloat(n: number): string {
  const s = String(n);
  return /e/.test(s) ? s.replace(/e([+-])(\d)$/, 'e$10$2') : s;
}

function pyString(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = '';
  for (const ch of s) {
    const code = ch.codePointAt(0) as number;
    if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += `\\${quote}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${quote}${out}${quote}`;
}

/** jsonschema's message for one failed keyword (ajv's error, with its data). */
function message(error: ErrorObject, extras: string[]): string {
  const data = pyRepr(error.data);
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return `${pyString(params.missingProperty as string)} is a required property`;
    case 'type': {
      const types = String(params.type).split(',');
      return `${data} is not of type ${types.map(pyString).join(', ')}`;
    }
    case 'minItems':
      return `${data} is too short`;
    case 'enum':
      return `${data} is not one of ${pyRepr(params.allowedValues)}`;
    case 'oneOf':
      return params.passingSchemas
        ? `${data} is valid under each of ${pyRepr(params.passingSchemas)}`
        : `${data} is not valid under any of the given schemas`;
    case 'additionalProperties':
      return `Additional properties are not allowed (${extras.map(pyString).join(', ')} ${
        extras.length === 1 ? 'was' : 'were'
      } unexpected)`;
    case 'false schema':
      return `False schema does not allow ${data}`;
    default:
      return `${data}: ${error.message ?? error.keyword}`;
  }
}

/**
 * The messages of every violation of the mapping schema, sorted as Keystone sorts them; empty
 * when `ref` ({rules: […]}) is valid. As Draft 4's validator, a oneOf that fails reports itself
 * only, not what each alternative had against the value.
 */
export function mappingErrors(ref: unknown): string[] {
  if (validate(ref)) return [];
  const errors = validate.errors ?? [];
  const within = (path: string, prefix: string) => path === prefix || path.startsWith(`${prefix}/`);
  const oneOfPaths = errors.filter((e) => e.keyword === 'oneOf').map((e) => e.instancePath);
  const kept = errors.filter(
    (e) =>
      e.keyword === 'oneOf' ||
      // What an alternative had against the value: its schema is a definition (ajv compiles
      // each $ref target as a schema of its own, so its paths do not start at #/properties).
      e.schemaPath.startsWith('#/properties/') ||
      !oneOfPaths.some((p) => within(e.instancePath, p)),
  );
  // One additionalProperties message per object, naming every unexpected property.
  const extras = new Map<string, string[]>();
  const messages: string[] = [];
  for (const error of kept) {
    if (error.keyword !== 'additionalProperties') {
      messages.push(message(error, []));
      continue;
    }
    const key = `${error.schemaPath}|${error.instancePath}`;
    const extra = (error.params as { additionalProperty: string }).additionalProperty;
    const list = extras.get(key);
    if (list) list.push(extra);
    else extras.set(key, [extra]);
  }
  for (const [key, list] of extras) {
    const error = kept.find((e) => `${e.schemaPath}|${e.instancePath}` === key) as ErrorObject;
    messages.push(message(error, list));
  }
  return messages.sort();
}

/** Keystone's validate_mapping_structure: a 400 listing every violation, one a line. */
export function validateMappingStructure(ref: unknown): void {
  const messages = mappingErrors(ref);
  if (messages.length > 0) throw validation(messages.map((m) => `${m}\n`).join(''));
}
