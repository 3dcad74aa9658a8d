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
      session.event({ type: 'result', id, of: 'hello', ...r });
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
          members: j.room.members(),
        }),
      );
      return;
    case 'part': {
      const room = await chat.part(session, req.room);
      session.event({ type: 'result', id, of: 'part', room });
      return;
    }
    case 'send': {
      // The ack waits for the group commit; later requests need not.
      const { cid } = req;
      chat.send(session, req.room, cid, req.text, req.me ?? false).then(
        ({ label, message }) =>
          session.event({ type: 'ack', id, room: label, cid, seq: message.seq, ts: message.ts }),
        (e: unknown) => errorEvent(chat, session, e, id, onError),
      );
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
        ...(await chat.roomList(req.after, req.limit)),
      });
      return;
    case 'who': {
      const w = await chat.who(session, req.room);
      session.event({ type: 'result', id, of: 'who', room: w.label, members: w.members });
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
  }
}
