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

export function isDelegated(caller: TokenContext): boolean {
  const methods: readonly string[] = caller.payload.methods;
  return (
    caller.applicationCredential !== null ||
    methods.length === 0 ||
    methods.some((m) => !PRIMARY_METHODS.has(m))
  );
}
