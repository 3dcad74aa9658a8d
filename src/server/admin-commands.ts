// The operator's commands. Each change goes through the Directory and into the audit log with no
// actor (the operator), which every running node follows: bans, roles and ended sessions reach
// the connections on all of them within a second.

import { parseArgs } from 'node:util';
import { FOREVER, type Directory, type ServerRole, type UserRecord } from '../core/directory.js';
import { parseDuration } from '../core/moderation.js';
import { ChatError, normalizeName } from '../protocol/index.js';
import { banSpan, banned, plural, table, when } from './admin-format.js';
import { makeLink, ownerSetupLink, ticketHash } from './setup-link.js';

/** A refusal the operator reads: a bad argument (exit 2) or a name or thing not found (1). */
export class AdminError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
  }
}

const usage = (message: string) => new AdminError(message, 2);

export interface AdminContext {
  dir: Directory;
  /** The page's address, for the links. */
  pageUrl: string;
  now(): number;
  out(line: string): void;
}

type Command = (ctx: AdminContext, args: string[]) => Promise<void>;

const ROLES: readonly ServerRole[] = ['owner', 'admin', 'moderator', 'member'];
const PREFIX_SHOWN = 8;
const USERS_PAGE = 500;
const AUDIT_DEFAULT = 50;
const AUDIT_MAX = 1000;

/** The ticket's short name: enough of its hash to tell it apart, never the code. */
const prefixOf = (hash: string) => hash.slice(0, PREFIX_SHOWN);

function count(raw: string | undefined, what: string, min: number, max: number): number {
  if (raw === undefined) throw usage(`${what} needs a number`);
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw usage(`${what} must be a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return Number(raw);
}

function arity(args: string[], min: number, max: number, form: string): void {
  if (args.length < min || args.length > max) throw usage(`usage: npm run admin -- ${form}`);
}

async function user(dir: Directory, raw: string): Promise<UserRecord> {
  const n = normalizeName(raw.replace(/^@/, ''));
  if (!n) throw usage(`"${raw}" is not a valid name`);
  const u = await dir.userByName(n.key);
  if (!u) throw new AdminError(`no account is named "${raw}" (npm run admin -- users lists them)`);
  return u;
}

async function allUsers(dir: Directory): Promise<UserRecord[]> {
  const all: UserRecord[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await dir.users(after, USERS_PAGE);
    all.push(...page);
    const last = page[page.length - 1];
    if (page.length < USERS_PAGE || !last) return all;
    after = last.key;
  }
}

function log(
  ctx: AdminContext,
  action: string,
  targetId: string | null,
  reason: string,
): Promise<number> {
  return ctx.dir.audit({ at: ctx.now(), actorId: null, action, targetId, room: null, reason });
}

const ownerLink: Command = async (ctx, args) => {
  arity(args, 0, 0, 'owner-link');
  const link = await ownerSetupLink(ctx.dir, ctx.pageUrl);
  if (link === undefined) {
    throw new AdminError(
      'this server has an owner already; an owner or admin makes more with: npm run admin -- role NAME owner',
    );
  }
  await log(ctx, 'setup link', null, '');
  ctx.out('Whoever opens this link first becomes an owner of this server (one use, valid 24 h):');
  ctx.out(link);
};

const invite: Command = async (ctx, args) => {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { uses: { type: 'string' }, days: { type: 'string' } },
      strict: true,
    });
  } catch (e) {
    throw usage(
      `${e instanceof Error ? e.message : String(e)}; usage: invite [--uses N] [--days D]`,
    );
  }
  const { uses: rawUses, days: rawDays } = parsed.values;
  const uses = rawUses === undefined ? 1 : count(rawUses, '--uses', 1, 1000);
  const days = rawDays === undefined ? 7 : count(rawDays, '--days', 1, 365);
  const made = await makeLink(ctx.dir, ctx.pageUrl, 'invite', { uses, days });
  const prefix = prefixOf(ticketHash(made.code));
  await log(ctx, 'invite link', null, `${prefix}, ${plural(uses, 'use')}, ${plural(days, 'day')}`);
  ctx.out(
    `An invite link for ${plural(uses, 'person', 'people')}, valid until ${when(made.expires)}:`,
  );
  ctx.out(made.link);
  ctx.out(`(npm run admin -- revoke-invite ${prefix} makes it unusable)`);
};

const invites: Command = async (ctx, args) => {
  arity(args, 0, 0, 'invites');
  const live = await ctx.dir.tickets('invite', ctx.now());
  if (live.length === 0) {
    ctx.out('No invite links are live.');
    return;
  }
  const rows: string[][] = [];
  for (const t of live) {
    const by =
      t.createdBy === null
        ? 'operator'
        : ((await ctx.dir.userById(t.createdBy))?.display ?? t.createdBy);
    rows.push([prefixOf(t.hash), String(t.uses), when(t.expires), by]);
  }
  for (const l of table(['invite', 'uses left', 'expires', 'made by'], rows)) ctx.out(l);
};

const revokeInvite: Command = async (ctx, args) => {
  arity(args, 1, 1, 'revoke-invite PREFIX');
  const prefix = (args[0] ?? '').toLowerCase();
  if (!/^[0-9a-f]{4,64}$/.test(prefix)) {
    throw usage(
      `"${args[0]}" is not an invite's prefix: 4 or more of the hex digits invites shows`,
    );
  }
  const hits = (await ctx.dir.tickets('invite', ctx.now())).filter((t) =>
    t.hash.startsWith(prefix),
  );
  const [hit] = hits;
  if (!hit)
    throw new AdminError(
      `no live invite link starts with ${prefix} (npm run admin -- invites lists them)`,
    );
  if (hits.length > 1) {
    throw usage(`${hits.length} invite links start with ${prefix}: give more digits`);
  }
  await ctx.dir.revokeTicket(hit.hash);
  await log(ctx, 'invite revoked', null, prefixOf(hit.hash));
  ctx.out(`Invite link ${prefixOf(hit.hash)} can no longer be used.`);
};

const users: Command = async (ctx, args) => {
  arity(args, 0, 0, 'users');
  const all = await allUsers(ctx.dir);
  if (all.length === 0) {
    ctx.out('No accounts yet.');
    return;
  }
  const now = ctx.now();
  const rows = all.map((u) => [u.display, u.role, banned(u, now), when(u.created)]);
  for (const l of table(['name', 'role', 'banned', 'created'], rows)) ctx.out(l);
  ctx.out(plural(all.length, 'account') + '.');
};

const role: Command = async (ctx, args) => {
  arity(args, 2, 2, 'role NAME owner|admin|moderator|member');
  const [name = '', raw = ''] = args;
  const next = ROLES.find((r) => r === raw.toLowerCase());
  if (!next) throw usage(`"${raw}" is not a role: owner, admin, moderator or member`);
  const u = await user(ctx.dir, name);
  if (u.role === next) {
    ctx.out(`${u.display} is already ${next}; nothing changed.`);
    return;
  }
  if (u.role === 'owner') {
    const owners = (await allUsers(ctx.dir)).filter((o) => o.role === 'owner');
    if (owners.length <= 1) {
      throw new AdminError(
        `${u.display} is the only owner: make someone else owner first (role NAME owner)`,
      );
    }
  }
  await ctx.dir.setRole(u.id, next);
  await log(ctx, 'role', u.id, next);
  ctx.out(`${u.display} is now ${next} (was ${u.role}).`);
};

const reset: Command = async (ctx, args) => {
  arity(args, 1, 1, 'reset NAME');
  const u = await user(ctx.dir, args[0] ?? '');
  const made = await makeLink(ctx.dir, ctx.pageUrl, 'reset', { userId: u.id, uses: 1, days: 1 });
  await log(ctx, 'reset link', u.id, '');
  ctx.out(
    `A link that sets a new password for ${u.display} (one use, valid until ${when(made.expires)}); ` +
      'their other sessions end when it is used:',
  );
  ctx.out(made.link);
};

/** A word made of digits and letters is meant as a duration, and refused when it is not one. */
const LOOKS_LIKE_DURATION = /^\d+[a-z]*$/i;

const ban: Command = async (ctx, args) => {
  if (args.length < 1) throw usage('usage: npm run admin -- ban NAME [DURATION] [REASON]');
  const [name = '', ...rest] = args;
  let span: number | undefined;
  let duration: string | undefined;
  if (rest[0] !== undefined && LOOKS_LIKE_DURATION.test(rest[0])) {
    duration = rest.shift();
    try {
      span = parseDuration(duration);
    } catch (e) {
      if (e instanceof ChatError) {
        throw usage(`"${duration}" is not a duration: a number and a unit, like 30m, 2h or 7d`);
      }
      throw e;
    }
  }
  const reason = rest.join(' ').trim().slice(0, 300);
  const u = await user(ctx.dir, name);
  const until = span === undefined ? FOREVER : ctx.now() + span;
  await ctx.dir.setServerBan(u.id, until, reason || null);
  const logged = duration ? `${reason}${reason ? ' ' : ''}(${duration})` : reason;
  await log(ctx, 'server ban', u.id, logged);
  ctx.out(
    `${u.display} is banned from the server ${banSpan(until)}${reason ? ` (${reason})` : ''}; ` +
      'their connections close within a second.',
  );
};

const unban: Command = async (ctx, args) => {
  arity(args, 1, 1, 'unban NAME');
  const u = await user(ctx.dir, args[0] ?? '');
  if (u.bannedUntil === null || u.bannedUntil <= ctx.now()) {
    ctx.out(`${u.display} is not banned; nothing changed.`);
    return;
  }
  await ctx.dir.setServerBan(u.id, null, null);
  await log(ctx, 'server unban', u.id, '');
  ctx.out(`${u.display} is no longer banned from the server.`);
};

const endSessions: Command = async (ctx, args) => {
  arity(args, 1, 1, 'end-sessions NAME');
  const u = await user(ctx.dir, args[0] ?? '');
  const ended = await ctx.dir.endSessions(u.id);
  if (ended === 0) {
    ctx.out(`${u.display} had no sessions; nothing changed.`);
    return;
  }
  await log(ctx, 'sessions ended', u.id, 'by the operator');
  ctx.out(
    `Ended ${plural(ended, 'session')} of ${u.display}; their connections close within a second ` +
      (u.hasPassword
        ? 'and they sign in again with their password.'
        : 'and, having no password, they need a reset link (reset NAME) to get back in.'),
  );
};

const audit: Command = async (ctx, args) => {
  arity(args, 0, 1, 'audit [N]');
  const n = args[0] === undefined ? AUDIT_DEFAULT : count(args[0], 'audit N', 1, AUDIT_MAX);
  const entries = (await ctx.dir.auditBefore(undefined, n)).reverse();
  if (entries.length === 0) {
    ctx.out('The audit log is empty.');
    return;
  }
  const names = new Map<string, string>();
  const nameOf = async (id: string): Promise<string> => {
    let name = names.get(id);
    if (name === undefined) {
      name = (await ctx.dir.userById(id))?.display ?? `(gone: ${id})`;
      names.set(id, name);
    }
    return name;
  };
  for (const e of entries) {
    const actor = e.actorId === null ? 'operator' : await nameOf(e.actorId);
    const target = e.targetId === null ? '' : ` ${await nameOf(e.targetId)}`;
    const room = e.room === null ? '' : ` in #${e.room}`;
    const reason = e.reason ? `: ${e.reason}` : '';
    ctx.out(`#${e.seq}  ${when(e.at)}  ${actor}: ${e.action}${target}${room}${reason}`);
  }
};

export const COMMANDS: Record<string, Command> = {
  'owner-link': ownerLink,
  invite,
  invites,
  'revoke-invite': revokeInvite,
  users,
  role,
  reset,
  ban,
  unban,
  'end-sessions': endSessions,
  audit,
};

export const HELP = `Usage: npm run admin -- COMMAND [ARGUMENTS] [store settings]

Works on the store the server uses, while it runs (one node or a cluster); changes reach every
node within a second. The store comes from the same settings as npm start: --store, --data-dir,
PARLEY_STORE, PARLEY_DATA_DIR; links use --public-url (PARLEY_PUBLIC_URL), else the host and
--http-port.

  owner-link                      a one-time link that makes its opener an owner (only while there is none)
  invite [--uses N] [--days D]    an invite link for N people (1), valid D days (7)
  invites                         the live invite links: hash prefix, uses left, expiry
  revoke-invite PREFIX            makes the invite link with that hash prefix unusable
  users                           every account: name, role, banned, created
  role NAME ROLE                  sets a server role: owner, admin, moderator or member
  reset NAME                      a one-time link (24 h) that sets a new password for NAME
  ban NAME [DURATION] [REASON]    bans NAME from the server, for 30m, 2h, 7d... or until lifted
  unban NAME                      lifts a server ban
  end-sessions NAME               ends every session of NAME: signed out everywhere
  audit [N]                       the last N entries of the audit log (50)
  help                            this text`;
