// Who this page is on the server: the identity it keeps (name and token), the hello of each
// handshake step, and the name prompt with its answers. Signing in and an account menu would
// change who the page is, so they start here too.

import type { ErrorEvent as ErrorFrame, HelloRequest } from '../protocol/index.js';
import type { Self } from './message-state.js';
import { handshakeHello, isChosen, promptName } from './names.js';
import { nameError } from './notices.js';
import type { ChatStorage, ChatView, ServerRole } from './ports.js';
import { isKind, type AnyPending, type Pending } from './requests.js';
import { hasChosenName, randomId, type Identity } from './storage.js';

const WAITING = 'Waiting for the connection; the name is taken once it is back.';

type NameView = Pick<
  ChatView,
  | 'nameInput'
  | 'namePromptOpen'
  | 'setMe'
  | 'openNamePrompt'
  | 'closeNamePrompt'
  | 'setNameError'
  | 'setNameBusy'
>;

export interface NamingDeps {
  view: NameView;
  storage: Pick<ChatStorage, 'saveIdentity' | 'skipName'>;
  identity: Identity;
  /** Sends a hello; false when it could not go (not connected). */
  hello(req: HelloRequest, ctx: Omit<Pending<'hello'>, 'req'>): boolean;
  /** Connected, the hello answered. */
  ready(): boolean;
  /** Says a line in the current room. */
  say(text: string, cls: string): void;
}

export class Naming {
  readonly #deps: NamingDeps;
  #identity: Identity;
  #me = '';
  /** My user id, once a hello or a sign-in said it. */
  #id: string | undefined;
  /** A name submitted in the prompt while offline, taken once connected. */
  #wanted: string | undefined;

  constructor(deps: NamingDeps) {
    this.#deps = deps;
    this.#identity = deps.identity;
    if (hasChosenName(this.#identity)) this.#me = this.#identity.name ?? '';
    deps.view.setMe({ name: this.#me });
  }

  /** My name ('' until the server gave one). */
  get me(): string {
    return this.#me;
  }

  /** My name and user id, to tell my messages by. */
  get self(): Self {
    return { name: this.#me, id: this.#id };
  }

  get token(): string {
    return this.#identity.token;
  }

  /** A name I chose (not a guest name). */
  get chosen(): boolean {
    return isChosen(this.#me);
  }

  /** The hello of handshake step `step` (see handshakeHello). */
  handshake(step: number): void {
    const { identity, req } = handshakeHello(step, this.#identity);
    this.#identity = identity;
    this.#deps.hello(req, { handshake: step });
  }

  /** The server role a sign-in gave, for a page that is not a guest. */
  get role(): ServerRole | null {
    return this.chosen ? (this.#identity.role ?? 'member') : null;
  }

  /**
   * The server gave a name (and token), with a role when a sign-in said it; returns the name
   * before.
   */
  named(name: string, token: string, userId: string, role?: ServerRole): string {
    const before = this.#me;
    const kept = token === this.#identity.token ? this.#identity.role : undefined;
    const r = role ?? kept;
    this.#identity = { name, token, ...(r && { role: r }) };
    this.#deps.storage.saveIdentity(this.#identity);
    this.#me = name;
    this.#id = userId;
    this.#deps.view.setMe(this.self);
    return before;
  }

  /** Signed out: a fresh token, no name; returns the hello that makes the page a guest. */
  signedOut(): HelloRequest {
    this.#identity = { token: randomId() };
    this.#id = undefined;
    this.#deps.storage.saveIdentity(this.#identity);
    this.#wanted = undefined;
    return { type: 'hello', token: this.#identity.token };
  }

  /** Hello answered: a name asked for while offline is taken now. */
  ready(): void {
    if (this.#wanted !== undefined) this.#take(this.#wanted);
  }

  /** The connection is gone: a name asked for from the prompt and not answered waits for it. */
  lost(unanswered: AnyPending[]): void {
    for (const p of unanswered) {
      if (isKind(p, 'hello') && p.prompt && p.req.name) this.#wanted = p.req.name;
    }
    if (this.#wanted !== undefined) this.#deps.view.setNameBusy(true, WAITING);
  }

  /** Opens the name prompt to change the name. */
  change(): void {
    this.#deps.view.openNamePrompt(hasChosenName(this.#identity) ? this.#me : '', false);
  }

  /** The name prompt was sent. */
  submit(raw: string): void {
    const { view, ready } = this.#deps;
    const n = promptName(raw, this.#me);
    if ('error' in n) {
      view.setNameError(n.error);
      return;
    }
    if ('same' in n) {
      view.closeNamePrompt();
      return;
    }
    if (!ready()) {
      this.#wanted = n.take;
      view.setNameBusy(true, WAITING);
      return;
    }
    this.#take(n.take);
  }

  /** "Later" or "Cancel" on the name prompt. */
  skip(): void {
    if (!hasChosenName(this.#identity)) this.#deps.storage.skipName();
    this.#wanted = undefined;
    this.#deps.view.closeNamePrompt();
  }

  /** The hello answered: the prompt closes when it asked, or is open for a /nick. */
  answered(ctx: Pending<'hello'> | undefined): void {
    const { view } = this.#deps;
    if (ctx?.prompt || (ctx?.user && view.namePromptOpen)) view.closeNamePrompt();
  }

  /** A hello refused; false when the refusal is not the prompt's or the handshake's to answer. */
  refused(ctx: Pending<'hello'>, ev: ErrorFrame): boolean {
    const { view, say } = this.#deps;
    if (ctx.handshake !== undefined && ctx.handshake < 2) {
      const name = ctx.req.name;
      say(name ? `Could not take the name ${name}: ${ev.message}` : ev.message, 'error');
      if (name) view.openNamePrompt(name, true, nameError(name, ev.code, ev.message));
      this.handshake(ctx.handshake + 1);
      return true;
    }
    if (ctx.prompt) {
      view.setNameBusy(false);
      view.setNameError(nameError(ctx.req.name ?? '', ev.code, ev.message));
      view.nameInput.focus();
      return true;
    }
    return false;
  }

  #take(name: string): void {
    const { view, hello } = this.#deps;
    this.#wanted = undefined;
    view.setNameBusy(true, 'Taking the name…');
    if (
      !hello({ type: 'hello', name, token: this.#identity.token }, { prompt: true, user: true })
    ) {
      this.#wanted = name;
      view.setNameBusy(true, WAITING);
    }
  }
}
