// Rules for names, rooms, message text, client message ids and reactions. Pure functions, shared
// by the server (which enforces them) and the browser (which checks early to say why).

export const NAME_MAX = 32;
export const TEXT_MAX_BYTES = 16 * 1024;
/**
 * A join result and a `who` answer name at most this many members, in name order, and say how
 * many there are: in a room of thousands every name in every join was most of a rejoin storm.
 */
export const MEMBERS_LISTED = 200;

/** People who did the same, as words: "ada", "ada and bob", "ada, bob, carl and 2 others". */
export function nameList(names: readonly string[]): string {
  if (names.length <= 1) return names.join('');
  if (names.length <= 4) return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
  return `${names.slice(0, 3).join(', ')} and ${names.length - 3} others`;
}

/** A room's members as a line: the names listed, and how many more the room has. */
export function membersLine({
  members,
  memberCount,
}: {
  members: readonly string[];
  memberCount: number;
}): string {
  const more = memberCount - members.length;
  return more > 0 ? `${members.join(', ')} and ${more} more` : members.join(', ');
}

// Control (Cc), format (Cf: zero-width and bidirectional controls), separators other than the
// plain space (Zl, Zp), surrogates and private use have no place in a name people must tell apart;
// nor have code points that render as nothing (default ignorable: variation selectors, the
// combining grapheme joiner, Hangul fillers).
const FORBIDDEN_IN_NAME =
  /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Co}\s\p{Default_Ignorable_Code_Point}]/u;
// Something a person can see: not only marks, nor the blank braille pattern (U+2800).
const VISIBLE = /[^\p{M}\u2800]/u;
// Message text keeps newlines and tabs but no other controls and no bidi overrides.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const FORBIDDEN_IN_TEXT = /[\u0000-\u0008\u000b-\u001f\u007f\u202a-\u202e\u2066-\u2069]/u;
// A lone surrogate cannot be stored as UTF-8; it would come back as U+FFFD.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const CID = /^[A-Za-z0-9_-]{1,64}$/;

export interface Normalized {
  /** As shown to people (NFC for rooms, NFKC for names). */
  display: string;
  /** For comparison: normalised, then case-folded. */
  key: string;
}

/**
 * A name's key. NFKC makes fullwidth and mathematical letters the plain ones (`ａｌｉｃｅ` is
 * `alice`); a name without such compatibility characters keeps the key it had under NFC.
 */
export function foldKey(s: string): string {
  return s.normalize('NFKC').toLowerCase().normalize('NFKC');
}

function checkLabel(raw: string, form: 'NFC' | 'NFKC'): Normalized | null {
  const display = raw.trim().normalize(form);
  const length = [...display].length;
  if (length < 1 || length > NAME_MAX || FORBIDDEN_IN_NAME.test(display)) return null;
  return { display, key: form === 'NFKC' ? foldKey(display) : foldRoom(display) };
}

/**
 * A room's key, and a name's key under an earlier Parley: NFC, case-folded. Rooms keep it, so
 * that rooms made then keep their history.
 */
function foldRoom(s: string): string {
  return s.normalize('NFC').toLowerCase().normalize('NFC');
}

/** A person's name, or null when it breaks the rules. */
export function normalizeName(raw: string): Normalized | null {
  const n = checkLabel(raw, 'NFKC');
  if (n && !VISIBLE.test(n.display)) return null;
  // `@` and `#` prefixes mean DM and room on the command line, so a name cannot start with them.
  if (!n || n.display.startsWith('@') || n.display.startsWith('#')) return null;
  return n;
}

// What an earlier Parley refused in a name: the rules before default-ignorable code points and
// blank names were refused and names were put through NFKC.
const FORBIDDEN_EARLIER = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Co}\s]/u;

/**
 * The name as an earlier Parley read it (NFC, case-folded), or null when it refused it then
 * too. A name taken under those rules stays its token's even where the present ones refuse it
 * (`☕\ufe0f` has a variation selector) or read it as another key (`ａｌｉｃｅ` is `alice`).
 */
export function earlierName(raw: string): Normalized | null {
  const display = raw.trim().normalize('NFC');
  const length = [...display].length;
  if (length < 1 || length > NAME_MAX || FORBIDDEN_EARLIER.test(display)) return null;
  if (display.startsWith('@') || display.startsWith('#')) return null;
  return { display, key: foldRoom(display) };
}

/** A room name; a leading `#` is accepted and dropped, as IRC users type it. */
export function normalizeRoom(raw: string): Normalized | null {
  const n = checkLabel(raw.trim().startsWith('#') ? raw.trim().slice(1) : raw, 'NFC');
  if (!n || n.display.startsWith('@')) return null;
  return { display: n.key, key: n.key };
}

/** True when a room string names a direct conversation (`@peer`). */
export function isDirect(room: string): boolean {
  return room.startsWith('@');
}

export function isValidText(text: string): boolean {
  return (
    text.trim().length > 0 &&
    utf8Length(text) <= TEXT_MAX_BYTES &&
    !FORBIDDEN_IN_TEXT.test(text) &&
    !LONE_SURROGATE.test(text)
  );
}

/** Over the size limit: said apart from other bad text, since only shortening helps. */
export function isTextTooLong(text: string): boolean {
  return utf8Length(text) > TEXT_MAX_BYTES;
}

export function isValidCid(cid: string): boolean {
  return CID.test(cid);
}

/** UTF-8 byte length without allocating (works in the browser too). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** Longest emoji, in UTF-16 units: a family or a flag with its modifiers, no more. */
const EMOJI_MAX = 32;
// One RGI-style emoji: a pictograph (or keycap, or flag pair) with its variation selectors,
// skin tones and zero-width-joined parts, and nothing else.
const PICT = '(?:\\p{Extended_Pictographic}|\\p{Emoji_Presentation})';
const MOD = '(?:\\uFE0F|\\p{Emoji_Modifier})*';
const EMOJI = new RegExp(
  `^(?:${PICT}${MOD}(?:\\u200D${PICT}${MOD})*|\\p{Regional_Indicator}{2}|[0-9#*]\\uFE0F?\\u20E3)$`,
  'u',
);

/** Whether `s` is one emoji (what a reaction may be). */
export function isEmoji(s: string): boolean {
  return s.length > 0 && s.length <= EMOJI_MAX && EMOJI.test(s);
}
