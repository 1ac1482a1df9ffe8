/**
 * Keystone's api/_shared/delegation.py: the auth methods that are a user's own login. A token
 * made any other way (an application credential, OAuth1, an EC2 key, a method yet to come) is a
 * delegation, narrower on purpose, and must not mint what would outlive or widen it.
 */
import type { TokenContext } from '../token/service.js';

const PRIMARY_METHODS: ReadonlySet<string> = new Set([
  'external',
  'kerberos',
  'mapped',
  'openid',
  'password',
  'saml2',
  'token',
  'totp',
  'x509',
]);

/** is_delegated_method: a method that is not a primary login (no method at all counts too). */
export function delegatedMethod(caller: TokenContext): boolean {
  const methods: readonly string[] = caller.payload.methods;
  return (
    caller.applicationCredential !== null ||
    methods.length === 0 ||
    methods.some((m) => !PRIMARY_METHODS.has(m))
  );
}

/**
 * `trust_id or is_delegated_method(token)`: what the credential families (credentials, OS-EC2,
 * application credentials, OAuth1 authorisations and access tokens) refuse. A trust is a scope,
 * not a method: its token's methods are the trustee's own login.
 */
export function delegated(caller: TokenContext): boolean {
  return caller.trust !== null || delegatedMethod(caller);
}
