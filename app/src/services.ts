/**
 * The service layer, wired once per app instance: what api/ plugins call. Services own the
 * rules; repositories (each service folder's repository.ts) own the SQL.
 */
import { AssignmentService } from './assignment/service.js';
import { CatalogService } from './catalog/service.js';
import type { IdentityConfig } from './config.js';
import { CredentialService } from './credential/service.js';
import type { Db } from './db.js';
import { DomainConfigService } from './domain-config/service.js';
import { FederationService } from './federation/service.js';
import { configureHashing } from './identity/passwords.js';
import { IdentityService } from './identity/service.js';
import { Invalidation } from './invalidation.js';
import { enforcementModels } from './limit/models.js';
import { LimitService } from './limit/service.js';
import { MfaService } from './mfa/service.js';
import { OAuth1Service } from './oauth1/service.js';
import { PolicyService } from './policies/service.js';
import type { Policy } from './policy/enforcer.js';
import { createPolicy } from './policy/file.js';
import { ResourceService } from './resource/service.js';
import { keyLoader } from './token/keys.js';
import { ReceiptProvider } from './token/receipt.js';
import { RevocationService } from './token/revocation.js';
import { TokenService } from './token/service.js';
import { TrustService } from './trust/service.js';

export interface Services {
  identity: IdentityService;
  resource: ResourceService;
  assignment: AssignmentService;
  catalog: CatalogService;
  credential: CredentialService;
  /** /v3/policies and OS-ENDPOINT-POLICY; domain-specific configuration. */
  policies: PolicyService;
  domainConfig: DomainConfigService;
  federation: FederationService;
  limit: LimitService;
  revocation: RevocationService;
  tokens: TokenService;
  oauth1: OAuth1Service;
  /** TOTP, multi-factor rules and auth receipts. */
  mfa: MfaService;
  trusts: TrustService;
  /** "Identity state changed": what every per-process cache follows. */
  invalidation: Invalidation;
  /** The policy rules in force (switches and the operator's file), read once per process. */
  policy: Policy;
}

/**
 * `clock`: when tokens are issued, revocations stamped and lockouts timed; by default the
 * database's (one clock for every host), a function when tests move it instead of waiting.
 */
export function createServices(
  db: Db,
  config: IdentityConfig,
  invalidation = new Invalidation(),
  clock?: () => number,
): Services {
  configureHashing({
    concurrency: config.passwordHashConcurrency,
    nice: config.passwordHashNice,
    queue: config.passwordHashQueue,
  });
  const hash = { algorithm: config.passwordHashAlgorithm, rounds: config.passwordHashRounds };
  const revocation = new RevocationService(db, invalidation, clock);
  const identity = new IdentityService(
    db,
    {
      hash,
      maxLength: config.maxPasswordLength,
      lockoutFailureAttempts: config.lockoutFailureAttempts,
      lockoutDuration: config.lockoutDuration,
      expiresDays: config.passwordExpiresDays,
      uniqueLastCount: config.uniqueLastPasswordCount,
      minimumAgeDays: config.minimumPasswordAge,
      changeUponFirstUse: config.changePasswordUponFirstUse,
    },
    revocation,
    invalidation,
    clock,
  );
  const limitModel = enforcementModels[config.limitEnforcementModel];
  const resource = new ResourceService(db, revocation, invalidation, limitModel.maxProjectTreeDepth);
  const assignment = new AssignmentService(db, identity, revocation, invalidation);
  const catalog = new CatalogService(db, invalidation, { endpointFilter: config.catalogEndpointFilter });
  const credential = new CredentialService(db, hash, keyLoader(config.credentialKeyRepository), invalidation);
  const oauth1 = new OAuth1Service(db, resource, assignment, {
    requestTokenDuration: config.oauth1RequestTokenDuration,
    accessTokenDuration: config.oauth1AccessTokenDuration,
    ...(clock ? { clock } : {}),
    invalidation,
  });
  const trusts = new TrustService(
    db,
    { identity, resource, assignment },
    { maxRedelegationCount: config.trustMaxRedelegationCount, ...(clock ? { clock } : {}) },
    invalidation,
  );
  const tokens = new TokenService({
    keys: keyLoader(config.fernetKeyRepository),
    expiration: config.tokenExpiration,
    allowExpiredWindow: config.allowExpiredWindow,
    identity,
    resource,
    assignment,
    credential,
    revocation,
    oauth1,
    trusts,
    federation: { tokenSource: (idp, protocol) => federation.tokenSource(idp, protocol) },
    invalidation,
    clock,
  });
  const limit = new LimitService(db, limitModel);
  const policy = createPolicy(config);
  const federation = new FederationService(db, invalidation, {
    relayStatePrefix: config.samlRelayStatePrefix,
    ...(clock ? { clock } : {}),
  });
  const policies = new PolicyService(db, catalog);
  const domainConfig = new DomainConfigService(db);
  const mfa = new MfaService(db, {
    identity,
    credential,
    receipts: new ReceiptProvider(keyLoader(config.receiptKeyRepository), config.receiptExpiration),
    previousWindows: config.totpIncludedPreviousWindows,
    ...(clock ? { clock } : {}),
  });
  return {
    identity,
    resource,
    assignment,
    catalog,
    credential,
    revocation,
    tokens,
    invalidation,
    policy,
    policies,
    domainConfig,
    oauth1,
    mfa,
    trusts,
    federation,
    limit,
  };
}
