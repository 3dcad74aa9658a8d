// Desktop notifications for mentions while the tab is hidden. Permission is asked only when the
// user presses the button, never on load; the button shows only while the answer is unknown.

type Permission = 'default' | 'granted' | 'denied';

interface NotificationApi {
  readonly permission: Permission;
  requestPermission(): Promise<Permission>;
  new (
    title: string,
    options?: { body?: string; tag?: string },
  ): {
    onclick: ((this: unknown, ev: Event) => unknown) | null;
    close(): void;
  };
}

function api(): NotificationApi | undefined {
  const n = (window as unknown as { Notification?: NotificationApi }).Notification;
  return typeof n === 'function' ? n : undefined;
}

export class Notifier {
  readonly #button: HTMLButtonElement;

  constructor(button: HTMLButtonElement) {
    this.#button = button;
    button.addEventListener('click', () => void this.ask());
    this.render();
  }

  get permission(): Permission | 'unsupported' {
    return api()?.permission ?? 'unsupported';
  }

  async ask(): Promise<void> {
    const n = api();
    if (!n) return;
    try {
      await n.requestPermission();
    } catch {
      // Some browsers only take the callback form or refuse outside a gesture: nothing to do.
    }
    this.render();
  }

  render(): void {
    this.#button.hidden = this.permission !== 'default';
  }

  /** Shows a notification when allowed; a click brings the tab forward and runs `open`. */
  show(title: string, body: string, tag: string, open: () => void): void {
    const N = api();
    if (!N || N.permission !== 'granted') return;
    try {
      const n = new N(title, { body, tag });
      n.onclick = () => {
        window.focus();
        open();
        n.close();
      };
    } catch {
      // Android Chrome allows notifications only from a service worker; the title still counts.
    }
  }
}
