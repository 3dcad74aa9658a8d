// Serves JSON-mode requests: each gets its result, an ack, or an error with a stable code.

import { ChatError, decodeRequest, errorFrame, type ClientRequest } from '../protocol/index.js';
import type { Chat } from './chat.js';
import type { Session } from './session.js';

export function errorEvent(
  chat: Chat,
  session: Session,
  e: unknown,
  id: string | undefined,
  onError: (e: unknown) => void,
): void {
  if (e instanceof ChatError) {
    chat.telemetry.refused(e.code);
    session.event(errorFrame(e, id));
  } else {
    onError(e);
    session.event(errorFrame('INTERNAL', id));
  }
}

export function serveJson(
  chat: Chat,
  session: Session,
  raw: string,
  onError: (e: unknown) => void,
): void {
  const decoded = decodeRequest(raw);
  if (!decoded.ok) {
    chat.telemetry.refused(decoded.code);
    session.event(errorFrame(decoded.code, decoded.id));
    return;
  }
  const req = decoded.request;
  chat.serve(session, () =>
    run(chat, session, req, onError).catch((e: unknown) =>
      errorEvent(chat, session, e, req.id, onError),
    ),
  );
}

async function run(
  chat: Chat,
  session: Session,
  req: ClientRequest,
  onError: (e: unknown) => void,
): Promise<void> {
  const { id } = req;
  switch (req.type) {
    case 'hello': {
      const r = await chat.hello(session, req.name, req.token);
      session.event({ type: 'result', id, of: 'hello', ...r, userId: session.userId });
      return;
    }
    case 'join':
      await chat.join(session, req.room, req.since, (j) =>
        session.event({
          type: 'result',
          id,
          of: 'join',
          room: j.label,
          lastSeq: j.lastSeq,
          ...j.room.listed(),
          ...(j.read && { read: j.read }),
        }),
      );
      return;
    case 'read': {
      const r = await chat.read(session, req.room, req.seq);
      session.event({ type: 'result', id, of: 'read', room: r.label, seq: r.seq });
      return;
    }
    case 'part': {
      const room = await chat.part(session, req.room);
      session.event({ type: 'result', id, of: 'part', room });
      return;
    }
    case 'send': {
      // The ack waits for the group commit; later requests need not.
      const { cid } = req;
      chat.send(session, req.room, cid, req.text, req.me ?? false, req.replyTo).then(
        ({ label, message }) =>
          session.event({ type: 'ack', id, room: label, cid, seq: message.seq, ts: message.ts }),
        (e: unknown) => errorEvent(chat, session, e, id, onError),
      );
      return;
    }
    case 'edit':
    case 'delete':
    case 'react': {
      // Acked as a send is, after the commit; later requests need not wait.
      const { cid } = req;
      const done =
        req.type === 'edit'
          ? chat.edit(session, req.room, cid, req.seq, req.text)
          : req.type === 'delete'
            ? chat.remove(session, req.room, cid, req.seq)
            : chat.react(session, req.room, cid, req.seq, req.emoji);
      done.then(
        ({ label, entry }) =>
          session.event({ type: 'ack', id, room: label, cid, seq: entry.seq, ts: entry.ts }),
        (e: unknown) => errorEvent(chat, session, e, id, onError),
      );
      return;
    }
    case 'changes': {
      const c = await chat.changes(session, req.room, req.since, req.before);
      session.event({
        type: 'result',
        id,
        of: 'changes',
        room: c.label,
        messages: c.messages,
        upTo: c.upTo,
        more: c.more,
      });
      return;
    }
    case 'history': {
      const h = await chat.history(session, req.room, req.before, req.limit);
      session.event({
        type: 'result',
        id,
        of: 'history',
        room: h.label,
        messages: h.messages,
        more: h.more,
      });
      return;
    }
    case 'rooms':
      session.event({
        type: 'result',
        id,
        of: 'rooms',
        ...(await chat.roomList(session, req.after, req.limit)),
      });
      return;
    case 'who': {
      const w = await chat.who(session, req.room, req.after);
      session.event({
        type: 'result',
        id,
        of: 'who',
        room: w.label,
        members: w.members,
        memberCount: w.memberCount,
      });
      return;
    }
    case 'typing': {
      const room = await chat.typing(session, req.room);
      session.event({ type: 'result', id, of: 'typing', room });
      return;
    }
    case 'ping':
      session.event({ type: 'result', id, of: 'ping' });
      return;
    case 'register': {
      const r = await chat.register(session, req.name, req.password, req.ticket);
      session.event({ type: 'result', id, of: 'login', ...r, userId: session.userId });
      return;
    }
    case 'login': {
      const r = await chat.login(session, req.name, req.password);
      session.event({ type: 'result', id, of: 'login', ...r, userId: session.userId });
      return;
    }
    case 'logout': {
      const ended = await chat.logout(session, req.everywhere ?? false);
      session.event({ type: 'result', id, of: 'logout', ended });
      return;
    }
    case 'password': {
      const r = await chat.password(session, req.password, req.old, req.ticket);
      session.event(
        r
          ? { type: 'result', id, of: 'login', ...r, userId: session.userId }
          : { type: 'result', id, of: 'password' },
      );
      return;
    }
    case 'sessions': {
      const list = await chat.sessions(session);
      session.event({
        type: 'result',
        id,
        of: 'sessions',
        sessions: list.map((s) => ({
          id: s.id,
          label: s.label,
          created: s.created,
          lastSeen: s.lastSeen,
          current: s.current,
        })),
      });
      return;
    }
    case 'revoke':
      await chat.revoke(session, req.session);
      session.event({ type: 'result', id, of: 'revoke' });
      return;
    case 'room':
      session.event({
        type: 'result',
        id,
        of: 'room',
        ...(await chat.roomInfo(session, req.room)),
      });
      return;
    case 'settings': {
      const change = {
        ...(req.topic !== undefined && { topic: req.topic }),
        ...(req.visibility !== undefined && { visibility: req.visibility }),
        ...(req.guests !== undefined && { guests: req.guests }),
      };
      const r = await chat.settings(session, req.room, change);
      session.event({ type: 'result', id, of: 'settings', ...r });
      return;
    }
    case 'moderate': {
      const r = await chat.moderate(
        session,
        req.action,
        req.name,
        req.room,
        req.duration,
        req.reason,
      );
      session.event({ type: 'result', id, of: 'moderate', ...r });
      return;
    }
    case 'audit':
      session.event({
        type: 'result',
        id,
        of: 'audit',
        ...(await chat.audit(session, req.before, req.limit)),
      });
      return;
    case 'users':
      session.event({ type: 'result', id, of: 'users', ...(await chat.users(session, req.after)) });
      return;
    case 'role':
      session.event({
        type: 'result',
        id,
        of: 'role',
        ...(await chat.setRole(session, req.name, req.role)),
      });
      return;
    case 'search': {
      const r = await chat.search(
        session,
        session.address,
        req.query,
        req.room,
        req.before,
        req.limit,
      );
      session.event({ type: 'result', id, of: 'search', ...r });
      return;
    }
    case 'invite':
      session.event({
        type: 'result',
        id,
        of: 'invite',
        ...(await chat.invite(session, req.uses, req.days)),
      });
      return;
  }
}
