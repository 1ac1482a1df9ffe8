/**
 * A unix listening socket's owner, group and mode, as PHP-FPM's listen.owner, listen.group and
 * listen.mode set them: 0660 by default, so the gateway's user and group (nginx's, when the group
 * is shared) may connect, and nobody else. Applied each time a socket is (re)created.
 */
import { chmodSync, chownSync } from 'node:fs';
import { formatListen, type GatewayConfig } from '../config.js';
import { GatewayError } from '../errors.js';

/** Returns the error (GW_ERR_LISTEN) when the socket cannot be given them, else null. */
export function applyListenPermissions(
  config: Pick<GatewayConfig, 'listen' | 'listenOwner' | 'listenGroup' | 'listenMode'>,
): GatewayError | null {
  const { listen } = config;
  if (listen.kind !== 'unix') return null;
  try {
    // Ownership first: a mode that lets the group in must not apply to the previous group.
    if (config.listenOwner !== null || config.listenGroup !== null)
      chownSync(listen.path, config.listenOwner ?? -1, config.listenGroup ?? -1);
    chmodSync(listen.path, config.listenMode);
    return null;
  } catch (err) {
    return new GatewayError(
      'GW_ERR_LISTEN',
      `GATEWAY_LISTEN=${formatListen(listen)} (GATEWAY_LISTEN_OWNER, _GROUP, _MODE): ${(err as Error).message}`,
      {},
      err,
    );
  }
}
