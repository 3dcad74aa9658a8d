// What a moderator does to a person: a module of its own, with no schema, so the page can use
// it without TypeBox.

export const MODERATION_ACTIONS = [
  'invite',
  'kick',
  'ban',
  'unban',
  'mute',
  'unmute',
  'op',
  'deop',
] as const;
export type ModerationAction = (typeof MODERATION_ACTIONS)[number];
