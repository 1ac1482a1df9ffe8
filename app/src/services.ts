/**
 * The service layer, wired once per app instance: what api/ plugins call. Services own the
 * rules; repositories (each service folder's repository.ts) own the SQL.
 */
import { AssignmentService } from './assignment/service.js';
import { CatalogService } from './catalog/service.js';
import type { IdentityConfig } from './config.js';
import { CredentialService } from './credential/service.js';
import type { Db } from './db.js';
import { configureHashing } from './identity/passwords.js';
import { IdentityService } from './identity/service.js';
import { Invalidation } from './invalidation.js';
import { enforcementModels } from './limit/models.js';
import { LimitService } from './limit/service.js';
import type { Policy } from './policy/enforcer.js';
import { createPolicy } from './policy/file.js';
import { ResourceService } from './resource/service.js';
import { keyLoader } from './token/keys.js';
import { RevocationService } from './token/revocation.js';
import { TokenService } from './token/service.js';

export interface Services {
  identity: IdentityService;
  resource: ResourceService;
  assignment: AssignmentService;
  catalog: CatalogService;
  credential: CredentialService;
  limit: LimitService;
  revocation: RevocationService;
  tokens: TokenService;
  /** "Identity state changed": what every per-process cache follows. */
  invalidation: Invalidation;
  /** The policy rules in force (switches and the operator's file), read once per process. */
  policy: Policy;
}

/**
 * `clock`: when tokens are issued and revocations stamped; by default the database's (one clock
 * for every host), a function when tests move it instead of waiting.
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
  );
  const limitModel = enforcementModels[config.limitEnforcementModel];
  const resource = new ResourceService(db, revocation, invalidation, limitModel.maxProjectTreeDepth);
  const assignment = new AssignmentService(db, identity, revocation, invalidation);
  const catalog = new CatalogService(db, invalidation, { endpointFilter: config.catalogEndpointFilter });
  const credential = new CredentialService(db, hash, keyLoader(config.credentialKeyRepository), invalidation);
  const tokens = new TokenService({
    keys: keyLoader(config.fernetKeyRepository),
    expiration: config.tokenExpiration,
    allowExpiredWindow: config.allowExpiredWindow,
    identity,
    resource,
    assignment,
    credential,
    revocation,
    invalidation,
    clock,
  });
  const limit = new LimitService(db, limitModel);
  const policy = createPolicy(config);
  return {
    identity,
    resource,
    assignment,
    catalog,
    credential,
    limit,
    revocation,
    tokens,
    invalidation,
    policy,
  };
}
