// Message text → DOM nodes, from the tree markup.ts parses: elements made one by one and text
// nodes, never HTML, so markup in a message is shown as it was typed. Only http(s) and mailto
// URLs become links, and only your own `@name` becomes a highlight.

import { parse, type Block, type Inline } from './markup.js';

export { mentionsName, safeHref, tokenize, type Token } from './markup.js';

function element(tag: string, children: Node[]): HTMLElement {
  const e = document.createElement(tag);
  e.append(...children);
  return e;
}

/**
 * A link whose real host the text hides is followed by that host, in brackets, and titled with
 * it; links open in a new tab that cannot reach back to this one.
 */
function inlineNodes(spans: Inline[]): Node[] {
  return spans.flatMap((t): Node[] => {
    switch (t.kind) {
      case 'text':
        return [document.createTextNode(t.text)];
      case 'code':
        return [element('code', [document.createTextNode(t.text)])];
      case 'mention': {
        const mark = element('mark', [document.createTextNode(t.text)]);
        mark.className = 'mention';
        return [mark];
      }
      case 'link': {
        const a = document.createElement('a');
        a.href = t.href;
        a.target = '_blank';
        a.rel = 'noopener noreferrer';
        a.textContent = t.text;
        if (!t.host) return [a];
        a.title = `Goes to ${t.host}`;
        const host = document.createElement('span');
        host.className = 'link-host';
        host.textContent = ` [${t.host}]`;
        return [a, host];
      }
      default:
        return [element(t.kind, inlineNodes(t.children))];
    }
  });
}

function blockNodes(blocks: Block[]): Node[] {
  return blocks.flatMap((b): Node[] => {
    switch (b.kind) {
      case 'para':
        return inlineNodes(b.children);
      case 'pre':
        return [element('pre', [element('code', [document.createTextNode(b.text)])])];
      case 'quote':
        return [element('blockquote', blockNodes(b.children))];
      default: {
        const list = element(
          b.kind,
          b.items.map((item) => element('li', inlineNodes(item))),
        );
        if (b.kind === 'ol' && b.start !== 1) list.setAttribute('start', String(b.start));
        return [list];
      }
    }
  });
}

/** The nodes of a message: text, formatting elements, safe links, and `<mark>` for mentions. */
export function richText(text: string, myName: string): Node[] {
  return blockNodes(parse(text, myName));
}
