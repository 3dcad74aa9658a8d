// Serves plain-text clients: lines are messages to the current room, `/` lines are commands,
// and every reply is a readable line.

import {
  ChatError,
  LOBBY,
  TEXT_HELP,
  errorLine,
  formatMessage,
  formatRemoved,
  isEmoji,
  membersLine,
  parseLine,
  textLabel,
} from '../protocol/index.js';
import type { Chat } from './chat.js';
import type { Session } from './session.js';

/** /quit is a normal closure (1000), not an error: it has no registry code. */
const QUIT_CLOSE = 1000;

/** A terminal shows a screenful of rooms, not the whole list. */
const TEXT_ROOM_PAGE = 50;

/** Joins the lobby for a new text connection, so the tutorial's clients talk at once. */
export function startText(chat: Chat, session: Session, onError: (e: unknown) => void): void {
  chat.serve(session, () =>
    chat
      .join(session, LOBBY, undefined, () => {
        session.current = LOBBY;
      })
      .catch((e: unknown) => reply(chat, session, e, onError)),
  );
}

function reply(chat: Chat, session: Session, e: unknown, onError: (e: unknown) => void): void {
  if (e instanceof ChatError) {
    chat.telemetry.refused(e.code);
    session.line(errorLine(e));
  } else {
    onError(e);
    session.line(errorLine('INTERNAL'));
  }
}

export function serveText(
  chat: Chat,
  session: Session,
  line: string,
  onError: (e: unknown) => void,
): void {
  chat.serve(session, () =>
    run(chat, session, line, onError).catch((e: unknown) => reply(chat, session, e, onError)),
  );
}

async function run(
  chat: Chat,
  session: Session,
  line: string,
  onError: (e: unknown) => void,
): Promise<void> {
  const c = parseLine(line);
  switch (c.cmd) {
    case 'say': {
      if (!session.current) throw new ChatError('NOT_IN_ROOM', 'Join a room first: /join ROOM');
      // The current room is held by id; a direct conversation's id is not what a client says.
      chat
        .send(
          session,
          chat.labelOf(session, session.current),
          chat.serverCid(session),
          c.text,
          c.me,
        )
        .catch((e: unknown) => reply(chat, session, e, onError));
      return;
    }
    case 'msg': {
      const to = c.to.startsWith('@') ? c.to : `@${c.to}`;
      chat
        .send(session, to, chat.serverCid(session), c.text, false)
        .catch((e: unknown) => reply(chat, session, e, onError));
      return;
    }
    case 'nick': {
      const r = await chat.hello(session, c.name, c.key);
      session.line(`* You are now ${r.name}.`);
      if (!c.key) session.line(`* To take this name again later: /nick ${r.name} ${r.token}`);
      return;
    }
    case 'join':
      await chat.join(session, c.room, undefined, (j) => {
        session.current = j.id;
        session.line(
          j.room.direct
            ? `* Now talking with ${j.label}`
            : `* Now talking in #${j.label} with ${membersLine(j.room.listed())}`,
        );
      });
      return;
    case 'part': {
      const label = await chat.part(
        session,
        c.room ?? (session.current ? chat.labelOf(session, session.current) : LOBBY),
      );
      const now = session.current
        ? `; now ${talkingIn(chat.labelOf(session, session.current))}`
        : '; you are in no room now: /join ROOM to talk';
      session.line(`* Left ${textLabel(label)}${now}`);
      return;
    }
    case 'rooms': {
      const { rooms, remaining } = await chat.roomList(session, undefined, TEXT_ROOM_PAGE);
      const more = remaining > 0 ? [`  ...and ${remaining} more`] : [];
      session.line(
        ['Rooms:', ...rooms.map((r) => `  #${r.room} (${r.members})`), ...more].join('\n'),
      );
      return;
    }
    case 'who': {
      const w = await chat.who(
        session,
        c.room ?? (session.current ? chat.labelOf(session, session.current) : LOBBY),
      );
      session.line(`Members of ${textLabel(w.label)}: ${membersLine(w) || 'nobody'}`);
      return;
    }
    case 'history': {
      if (!session.current) throw new ChatError('NOT_IN_ROOM', 'Join a room first: /join ROOM');
      const h = await chat.history(
        session,
        chat.labelOf(session, session.current),
        undefined,
        c.limit ?? 20,
      );
      session.line(
        h.messages.length
          ? h.messages
              .map((m) =>
                m.removed
                  ? formatRemoved(m)
                  : formatMessage(m) + (m.edited === undefined ? '' : ' (edited)'),
              )
              .join('\n')
          : '* No messages yet.',
      );
      return;
    }
    case 'search': {
      const r = await chat.search(session, session.address, c.query);
      const lines = r.results.map((m) => formatMessage(m, textLabel(m.room)));
      if (r.more) lines.push('* More found: add a word to narrow the search.');
      session.line(lines.length ? lines.join('\n') : '* Nothing found.');
      return;
    }
    case 'register':
    case 'login': {
      const r =
        c.cmd === 'register'
          ? await chat.register(session, c.name, c.password)
          : await chat.login(session, c.name, c.password);
      session.line(`* Signed in as ${r.name}${r.role === 'member' ? '' : ` (${r.role})`}.`);
      return;
    }
    case 'logout': {
      const ended = await chat.logout(session, c.everywhere);
      session.line(
        `* Signed out${c.everywhere ? ` of ${ended} session${ended === 1 ? '' : 's'}` : ''}; you are ${session.name} now.`,
      );
      return;
    }
    case 'password':
      await chat.password(session, c.password, c.old);
      session.line('* Password set; your other sessions were ended.');
      return;
    case 'topic': {
      // The room's members, the asker among them, are told the new settings.
      await chat.settings(session, currentRoom(chat, session), { topic: c.text });
      return;
    }
    case 'room': {
      await chat.settings(session, currentRoom(chat, session), {
        ...(c.visibility !== undefined && { visibility: c.visibility }),
        ...(c.guests !== undefined && { guests: c.guests }),
      });
      return;
    }
    case 'moderate': {
      const r = await chat.moderate(
        session,
        c.action,
        c.name,
        currentRoom(chat, session),
        c.duration,
        c.reason,
      );
      session.line(`* Done: ${r.action} ${r.name}.`);
      return;
    }
    case 'edit':
    case 'delete':
    case 'react':
    case 'reply': {
      if (!session.current) throw new ChatError('NOT_IN_ROOM', 'Join a room first: /join ROOM');
      // Held by id, like the current room of a line; the seqs come from the store.
      const label = chat.labelOf(session, session.current);
      const cid = chat.serverCid(session);
      // Said to everyone in the room, the asker included, when it commits.
      if (c.cmd === 'reply') {
        chat
          .send(session, label, cid, c.text, false, c.seq)
          .catch((e: unknown) => reply(chat, session, e, onError));
        return;
      }
      if (c.cmd === 'react' && !isEmoji(c.emoji)) throw new ChatError('EMOJI_INVALID');
      const seq =
        c.cmd === 'delete' && c.seq !== undefined
          ? c.seq
          : await chat.lastMessage(session, label, c.cmd !== 'react');
      const done =
        c.cmd === 'edit'
          ? chat.edit(session, label, cid, seq, c.text)
          : c.cmd === 'delete'
            ? chat.remove(session, label, cid, seq)
            : chat.react(session, label, cid, seq, c.emoji);
      await done;
      return;
    }
    case 'help':
      session.line(TEXT_HELP);
      return;
    case 'quit':
      session.peer.close(QUIT_CLOSE, 'bye');
      return;
    case 'usage':
      throw new ChatError('BAD_REQUEST', `Usage: ${c.usage}`);
    case 'unknown':
      // The registry's message, naming the command the user typed.
      throw new ChatError('UNKNOWN_COMMAND', `Unknown command /${c.name}; /help lists them.`);
  }
}

/** The public room the session talks in: moderation and settings act on it. */
function currentRoom(chat: Chat, session: Session): string {
  const label = session.current ? chat.labelOf(session, session.current) : undefined;
  if (label === undefined || label.startsWith('@')) {
    throw new ChatError('NOT_IN_ROOM', 'Join a room first: /join ROOM');
  }
  return label;
}

function talkingIn(label: string): string {
  return label.startsWith('@') ? `talking with ${label}` : `talking in ${textLabel(label)}`;
}
