/**
 * Domain-specific configuration as Keystone's DomainConfigManager keeps it (keystone/resource/
 * core.py, config_backends/sql.py): only the [identity] and [ldap] options it lists may be set;
 * sensitive ones ([ldap] password) are stored but never returned. The options are stored and
 * served; the identity backend stays SQL for every domain, as with Keystone's default
 * domain_specific_drivers_enabled = false.
 */
import { type Db, transaction } from '../db.js';
import { IdentityError, validation } from '../errors.js';
import * as repo from './repository.js';

/** The options a domain may set, and Keystone 22's defaults for them (keystone/conf). */
export const WHITELISTED = {
  identity: { driver: 'sql', list_limit: null },
  ldap: {
    url: 'ldap://localhost',
    user: null,
    suffix: 'cn=example,cn=com',
    query_scope: 'one',
    page_size: 0,
    alias_dereferencing: 'default',
    debug_level: null,
    chase_referrals: null,
    user_tree_dn: null,
    user_filter: null,
    user_objectclass: 'inetOrgPerson',
    user_id_attribute: 'cn',
    user_name_attribute: 'sn',
    user_mail_attribute: 'mail',
    user_description_attribute: 'description',
    user_pass_attribute: 'userPassword',
    user_enabled_attribute: 'enabled',
    user_enabled_invert: false,
    user_enabled_mask: 0,
    user_enabled_default: 'True',
    user_attribute_ignore: ['default_project_id'],
    user_default_project_id_attribute: null,
    user_enabled_emulation: false,
    user_enabled_emulation_dn: null,
    user_enabled_emulation_use_group_config: false,
    user_additional_attribute_mapping: [],
    group_tree_dn: null,
    group_filter: null,
    group_objectclass: 'groupOfNames',
    group_id_attribute: 'cn',
    group_name_attribute: 'ou',
    group_members_are_ids: false,
    group_member_attribute: 'member',
    group_desc_attribute: 'description',
    group_attribute_ignore: [],
    group_additional_attribute_mapping: [],
    tls_cacertfile: null,
    tls_cacertdir: null,
    use_tls: false,
    tls_req_cert: 'demand',
    use_pool: true,
    pool_size: 10,
    pool_retry_max: 3,
    pool_retry_delay: 0.1,
    pool_connection_timeout: -1,
    pool_connection_lifetime: 600,
    use_auth_pool: true,
    auth_pool_size: 100,
    auth_pool_connection_lifetime: 60,
  },
} as const satisfies Record<string, Record<string, unknown>>;
/** Stored apart and never returned. */
export const SENSITIVE = { identity: [], ldap: ['password'] } as const satisfies Record<
  keyof typeof WHITELISTED,
  readonly string[]
>;

type Group = keyof typeof WHITELISTED;
/** `{ group: { option: value } }`, or `{ option: value }` when one option was asked for. */
export type Config = Record<string, unknown>;

/** The security compliance options any domain member may read (Keystone 22's defaults: unset). */
const SECURITY_COMPLIANCE = { password_regex: null, password_regex_description: null } as const;
const DEFAULT_DOMAIN = 'default';

const invalid = (reason: string) =>
  new IdentityError('IDN_ERR_FORBIDDEN', `Invalid domain specific configuration: ${reason}.`);
const configNotFound = (domainId: string, what: string) =>
  new IdentityError(
    'IDN_ERR_NOT_FOUND',
    `Could not find ${what} in domain configuration for domain ${domainId}.`,
  );
const what = (group: string | null, option: string | null) =>
  option ? `option ${option} in group ${group}` : group ? `group ${group}` : 'any options';

const isGroup = (group: string): group is Group => Object.hasOwn(WHITELISTED, group);
const isWhitelisted = (group: Group, option: string) => Object.hasOwn(WHITELISTED[group], option);
const isSensitive = (group: Group, option: string) =>
  (SENSITIVE[group] as readonly string[]).includes(option);
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Keystone's _assert_valid_group_and_option. */
function checkGroupAndOption(group: string | null, option: string | null): void {
  if (!group) return;
  if (!isGroup(group)) throw invalid(`Group ${group} is not supported for domain specific configurations`);
  if (option && !isWhitelisted(group, option) && !isSensitive(group, option))
    throw invalid(`Option ${option} in group ${group} is not supported for domain specific configurations`);
}

/** Keystone's _assert_valid_config: something to set, each group an object of supported options. */
function checkConfig(config: unknown): asserts config is Record<string, Record<string, unknown>> {
  if (config === undefined || config === null || config === false || config === 0 || config === '')
    throw invalid('No options specified');
  if (!isObject(config)) throw validation("Invalid input for field 'config': must be object");
  if (Object.keys(config).length === 0) throw invalid('No options specified');
  for (const [group, options] of Object.entries(config)) {
    if (!isObject(options) || Object.keys(options).length === 0)
      throw invalid(`The value of group ${group} specified in the config should be a dictionary of options`);
    for (const option of Object.keys(options)) checkGroupAndOption(group, option);
  }
}

function toRows(config: Record<string, Record<string, unknown>>): repo.OptionRow[] {
  return Object.entries(config).flatMap(([group, options]) =>
    Object.entries(options).map(([option, value]) => ({
      group,
      option,
      value,
      sensitive: isSensitive(group as Group, option),
    })),
  );
}

/** Keystone's _list_to_config. */
function toConfig(
  rows: { group: string; option: string; value: unknown }[],
  option: string | null = null,
): Config {
  if (option) {
    const row = rows[0];
    return row ? { [row.option]: row.value } : {};
  }
  const config: Record<string, Record<string, unknown>> = {};
  for (const r of rows) {
    const group = config[r.group] ?? {};
    group[r.option] = r.value;
    config[r.group] = group;
  }
  return config;
}

export class DomainConfigService {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  /** Whether the domain has any option stored, sensitive ones included. */
  async hasConfig(domainId: string): Promise<boolean> {
    return (
      (await repo.listOptions(this.#db, domainId, false)).length > 0 ||
      (await repo.listOptions(this.#db, domainId, true)).length > 0
    );
  }

  /** Replaces the domain's whole configuration; answers the options that may be shown. */
  async createConfig(domainId: string, config: unknown): Promise<Config> {
    checkConfig(config);
    const rows = toRows(config);
    await transaction(this.#db, async (tx) => {
      await repo.deleteOptions(tx, domainId);
      await repo.putOptions(tx, domainId, rows);
    });
    return toConfig(await repo.listOptions(this.#db, domainId, false));
  }

  /** The stored (never the sensitive) options, of a group, or one option; 404 when none. */
  async getConfig(
    domainId: string,
    group: string | null = null,
    option: string | null = null,
  ): Promise<Config> {
    checkGroupAndOption(group, option);
    const rows = await repo.listOptions(this.#db, domainId, false, group, option);
    if (rows.length === 0) throw configNotFound(domainId, what(group, option));
    return toConfig(rows, option);
  }

  /**
   * Merges options into the configuration. With a group (and option) in the path, the config
   * must hold that group (option) only, and it must already be set.
   */
  async updateConfig(
    domainId: string,
    body: unknown,
    group: string | null = null,
    option: string | null = null,
  ): Promise<Config> {
    const config = group && option ? { [group]: body } : body;
    checkConfig(config);
    checkGroupAndOption(group, option);
    if (group) {
      const groups = Object.keys(config);
      const inGroup = config[group];
      if (groups.length !== 1 || (option && Object.keys(inGroup ?? {}).length !== 1))
        throw invalid(
          option
            ? `Trying to update option ${option} in group ${group}, so that, and only that, option must be specified  in the config`
            : `Trying to update group ${group}, so that, and only that, group must be specified in the config`,
        );
      if (!inGroup)
        throw invalid(
          `request to update group ${group}, but config provided contains group ${groups[0]} instead`,
        );
      if (option && !Object.hasOwn(inGroup, option))
        throw invalid(
          `Trying to update option ${option} in group ${group}, but config provided contains option ${Object.keys(inGroup)[0]} instead`,
        );
      const existing = [
        ...(await repo.listOptions(this.#db, domainId, false, group, option)),
        ...(await repo.listOptions(this.#db, domainId, true, group, option)),
      ];
      if (existing.length === 0) throw configNotFound(domainId, what(group, option));
    }
    await transaction(this.#db, (tx) => repo.putOptions(tx, domainId, toRows(config)));
    return this.getConfig(domainId);
  }

  /** Deletes the configuration, a group, or an option; a group or option that is not set is 404. */
  async deleteConfig(
    domainId: string,
    group: string | null = null,
    option: string | null = null,
  ): Promise<void> {
    checkGroupAndOption(group, option);
    if (group) {
      const current = [
        ...(await repo.listOptions(this.#db, domainId, false, group)),
        ...(await repo.listOptions(this.#db, domainId, true, group)),
      ];
      if (current.length === 0) throw configNotFound(domainId, what(group, null));
      if (option && !current.some((r) => r.option === option))
        throw configNotFound(domainId, what(group, option));
    }
    await repo.deleteOptions(this.#db, domainId, group, option);
  }

  /** The defaults of the whitelisted options, of a group, or of one option. */
  defaultConfig(group: string | null = null, option: string | null = null): Config {
    checkGroupAndOption(group, option);
    const rows = (g: Group) =>
      Object.entries(WHITELISTED[g]).map(([o, value]) => ({ group: g, option: o, value }));
    if (group && isGroup(group)) {
      if (option) {
        if (!isWhitelisted(group, option))
          throw invalid(`Reading the default for option ${option} in group ${group} is not supported`);
        return { [option]: (WHITELISTED[group] as Record<string, unknown>)[option] };
      }
      return toConfig(rows(group));
    }
    return toConfig((Object.keys(WHITELISTED) as Group[]).flatMap(rows));
  }

  /** [security_compliance]'s readable options, for the default domain only. */
  securityCompliance(domainId: string, option: string | null = null): Config {
    if (domainId !== DEFAULT_DOMAIN)
      throw invalid(
        'Reading security compliance information for any domain other than the default domain is not allowed or supported.',
      );
    if (option) {
      if (!Object.hasOwn(SECURITY_COMPLIANCE, option))
        throw invalid(
          'Reading security compliance values other than password_regex and password_regex_description is not allowed.',
        );
      return { [option]: SECURITY_COMPLIANCE[option as keyof typeof SECURITY_COMPLIANCE] };
    }
    return { security_compliance: { ...SECURITY_COMPLIANCE } };
  }
}
