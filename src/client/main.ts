// Entry point: loads the outbox, wires the page, the connection state machine and the chat.

import { ticketLink } from './access.js';
import { AccessDialogs } from './access-view.js';
import { Chat } from './chat.js';
import { Connection, socketUrl, type ConnState } from './connection.js';
import { Notifier } from './notify.js';
import { IdbOutbox } from './outbox.js';
import { SearchBox } from './search-view.js';
import { byId } from './dom.js';
import { decodeServerEvent } from './server-events.js';
import {
  browserStorage,
  hasChosenName,
  loadClosed,
  loadIdentity,
  loadRooms,
  nameSkipped,
} from './storage.js';
import { View } from './view.js';

/** Tallest the message box grows before it scrolls, in pixels. */
const TEXT_MAX_PX = 180;

async function start(): Promise<void> {
  // The app shell works offline once loaded; a reload without a server still shows the page
  // and its pending sends. Service workers need a secure context (https or localhost).
  if ('serviceWorker' in navigator && window.isSecureContext) {
    navigator.serviceWorker.register('sw.js', { scope: './' }).catch(() => {});
  }

  // Assigned below; the view's hooks only fire after start-up.
  const late: { chat?: Chat } = {};
  const view = new View({
    wantOlder: (room) => late.chat?.loadOlder(room),
    atBottom: () => late.chat?.seen(),
    openRoom: (room) => {
      late.chat?.open(room);
      if (view.drawerOpen()) {
        view.setDrawer(false);
        view.text.focus();
      }
    },
    leaveRoom: (room) => late.chat?.leave(room),
    openDirect: (name) => {
      late.chat?.openDirect(name);
      if (view.drawerOpen()) view.setDrawer(false);
      view.text.focus();
    },
    browseRooms: () => late.chat?.browseRooms(),
    joinRoom: (room) => {
      late.chat?.joinRoom(room);
      if (view.drawerOpen()) view.setDrawer(false);
      view.text.focus();
    },
    retry: (cid) => late.chat?.retry(cid),
    discard: (cid) => late.chat?.discard(cid),
    moderate: (action, name) => late.chat?.access.moderate(action, name),
    wantQuote: (room, seq) => late.chat?.acts.wantQuote(room, seq),
    openQuote: (room, seq) => late.chat?.jumpTo(room, seq),
    reply: (room, seq) => {
      late.chat?.acts.reply(room, seq);
      view.text.focus();
    },
    react: (room, seq, emoji) => late.chat?.acts.react(room, seq, emoji) ?? false,
    edit: (room, seq, text) => late.chat?.acts.edit(room, seq, text) ?? false,
    remove: (room, seq) => late.chat?.acts.remove(room, seq),
    editClosed: () => view.text.focus(),
  });
  const access = new AccessDialogs(() => late.chat?.access, view);
  const search = new SearchBox({
    search: (query, next) => late.chat?.search(query, next),
    jump: (room, seq) => {
      late.chat?.jumpTo(room, seq);
      if (view.drawerOpen()) view.setDrawer(false);
    },
  });
  // A setup, invite or reset link: read once, and out of the address bar (and its history).
  const link = ticketLink(location.hash);
  if (link) history.replaceState(null, '', location.pathname + location.search);
  const notifier = new Notifier(view.notifyButton);
  const outbox = await IdbOutbox.open();

  let tick: ReturnType<typeof setInterval> | undefined;
  const showState = (state: ConnState, retryAt: number): void => {
    clearInterval(tick);
    const render = (): void =>
      view.setStatus(
        state,
        Math.max(0, Math.ceil((retryAt - Date.now()) / 1000)),
        navigator.onLine !== false,
      );
    render();
    if (state === 'offline') tick = setInterval(render, 1000);
  };

  const conn = new Connection(socketUrl(location), {
    state: showState,
    open: () => late.chat?.onOpen(),
    close: (code, reason) => late.chat?.onClose(code, reason),
    failed: () => late.chat?.onUnreachable(),
    frame: (data) => late.chat?.onFrame(data),
  });

  const identity = loadIdentity();
  const c = new Chat({
    view,
    access,
    search,
    pageUrl: location.origin + location.pathname,
    storage: browserStorage,
    outbox,
    identity,
    rooms: loadRooms(),
    closed: loadClosed(),
    askName: !link && !hasChosenName(identity) && !nameSkipped(),
    decode: decodeServerEvent,
    transmit: (frame) => conn.send(frame),
    drop: () => conn.drop(),
    hidden: () => document.visibilityState === 'hidden',
    notify: (title, body, room) =>
      notifier.show(title, body, `parley:${room}`, () => c.switchTo(room)),
  });
  late.chat = c;
  if (link) c.access.openLink(link);

  // The message box: Enter sends, Shift+Enter is a new line; it grows with its text.
  const grow = (): void => {
    view.text.style.height = 'auto';
    view.text.style.height = `${Math.min(view.text.scrollHeight + 2, TEXT_MAX_PX)}px`;
  };
  const send = (): void => {
    // A line that cannot go as it is (too long, say) stays in the box to be fixed.
    if (!c.submit(view.text.value)) return;
    view.text.value = '';
    grow();
  };
  view.sendForm.addEventListener('submit', (e) => {
    e.preventDefault();
    send();
  });
  view.text.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      send();
    } else if (
      e.key === 'ArrowUp' &&
      !view.text.value &&
      !(e.shiftKey || e.altKey || e.ctrlKey || e.metaKey)
    ) {
      // Up in an empty box edits my last message here, as in other chats.
      if (c.acts.editLast()) e.preventDefault();
    } else if (e.key === 'Escape' && c.acts.cancelReply()) {
      e.preventDefault();
    }
  });
  byId('reply-cancel').addEventListener('click', () => {
    c.acts.cancelReply();
    view.text.focus();
  });
  view.text.addEventListener('input', () => {
    grow();
    c.typed(view.text.value);
  });

  view.joinForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const room = view.joinInput.value;
    view.joinInput.value = '';
    if (room.trim()) c.joinRoom(room);
    if (view.drawerOpen()) view.setDrawer(false);
    view.text.focus();
  });

  // Names: the prompt on first visit, and the name button to change it later.
  view.meButton.addEventListener('click', () => c.changeName());
  view.nameForm.addEventListener('submit', (e) => {
    e.preventDefault();
    c.submitName(view.nameInput.value);
  });
  view.nameLater.addEventListener('click', () => c.skipName());
  view.nameDialog.addEventListener('cancel', (e) => {
    e.preventDefault();
    c.skipName();
  });
  view.nameDialog.addEventListener('close', () => {
    // Unless another dialog took over (sign in instead of a name).
    if (!view.drawerOpen() && !document.querySelector('dialog[open]')) view.text.focus();
  });

  // Alt+Up / Alt+Down move between rooms from anywhere.
  document.addEventListener('keydown', (e) => {
    const modal = document.querySelector('dialog[open]');
    if (!e.altKey || (e.key !== 'ArrowUp' && e.key !== 'ArrowDown') || modal) return;
    e.preventDefault();
    c.switchBy(e.key === 'ArrowUp' ? -1 : 1);
  });

  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') {
      c.onVisible();
      conn.retryNow();
    }
  });
  window.addEventListener('online', () => conn.retryNow());
  // The socket may not notice for minutes; the browser knows now.
  window.addEventListener('offline', () => conn.drop());
  view.retryButton.addEventListener('click', () => conn.retryNow());

  conn.start();
}

void start();
