// Entry point: wires the page, the connection state machine and the chat session.

import { Chat } from './chat.js';
import { Connection, socketUrl, type ConnState } from './connection.js';
import { MemoryOutbox } from './outbox.js';
import { loadIdentity, loadRooms } from './storage.js';
import { View } from './view.js';

const view = new View();

let tick: ReturnType<typeof setInterval> | undefined;
function showState(state: ConnState, retryAt: number): void {
  clearInterval(tick);
  const render = (): void =>
    view.setStatus(state, Math.max(0, Math.ceil((retryAt - Date.now()) / 1000)));
  render();
  if (state === 'offline') tick = setInterval(render, 1000);
}

const conn = new Connection(socketUrl(location), {
  state: showState,
  open: () => chat.onOpen(),
  close: (code, reason) => chat.onClose(code, reason),
  frame: (data) => chat.onFrame(data),
});

const chat = new Chat({
  view,
  outbox: new MemoryOutbox(),
  identity: loadIdentity(),
  rooms: loadRooms(),
  transmit: (frame) => conn.send(frame),
});

view.sendForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const line = view.text.value;
  view.text.value = '';
  chat.submit(line);
});
view.text.addEventListener('input', () => chat.typed(view.text.value));
view.joinForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const room = view.joinInput.value;
  view.joinInput.value = '';
  if (room.trim()) chat.joinRoom(room);
});
view.onRoomClick((room) => chat.switchTo(room));
window.addEventListener('online', () => conn.retryNow());

conn.start();
