/**
 * User and group names to ids, for the unix socket's GATEWAY_LISTEN_OWNER and GATEWAY_LISTEN_GROUP
 * (Node has no getpwnam): a numeric id as given, a name from /etc/passwd or /etc/group.
 */
import { readFileSync } from 'node:fs';

function lookup(file: string, name: string): number | null {
  if (/^\d+$/.test(name)) return Number(name);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  for (const line of text.split('\n')) {
    const [entry, , id] = line.split(':');
    if (entry === name && id !== undefined && /^\d+$/.test(id)) return Number(id);
  }
  return null;
}

/** A user's id, or null when there is no such user. */
export function userId(name: string, passwd = '/etc/passwd'): number | null {
  return lookup(passwd, name);
}

/** A group's id, or null when there is no such group. */
export function groupId(name: string, group = '/etc/group'): number | null {
  return lookup(group, name);
}
