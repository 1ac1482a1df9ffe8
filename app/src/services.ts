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
import { ResourceService } from './resource/service.js';
import { ValidationCache } from './token/cache.js';
import { keyLoader } from './token/keys.js';
import { RevocationService } from './token/revocation.js';
import { TokenService } from './token/service.js';

export interface Services {
  identity: IdentityService;
  resource: ResourceService;
  assignment: AssignmentService;
  catalog: CatalogService;
  credential: CredentialService;
  revocation: RevocationService;
  tokens: TokenService;
  cache: ValidationCache;
}

export function createServices(db: Db, config: IdentityConfig, cache = new ValidationCache()): Services {
  configureHashing({
    concurrency: config.passwordHashConcurrency,
    nice: config.passwordHashNice,
    queue: config.passwordHashQueue,
  });
  const hash = { algorithm: config.passwordHashAlgorithm, rounds: config.passwordHashRounds };
  const revocation = new RevocationService(db, cache);
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
    cache,
  );
  const resource = new ResourceService(db, revocation, cache);
  const assignment = new AssignmentService(db, identity, revocation, cache);
  const catalog = new CatalogService(db, cache);
  const credential = new CredentialService(db, hash, keyLoader(config.credentialKeyRepository), cache);
  const tokens = new TokenService({
    keys: keyLoader(config.fernetKeyRepository),
    expiration: config.tokenExpiration,
    allowExpiredWindow: config.allowExpiredWindow,
    identity,
    resource,
    assignment,
    credential,
    revocation,
    cache,
  });
  return { identity, resource, assignment, catalog, credential, revocation, tokens, cache };
}
