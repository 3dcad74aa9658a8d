// Message formatting, parsed without a DOM: which text becomes code, emphasis, quotes, lists and
// links, what stays as typed, and that hostile input costs steps in proportion to its length.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cost, parse, safeHref, tokenize, type Block, type Inline } from '../src/client/markup.js';

const text = (t: string): Inline => ({ kind: 'text', text: t });
const para = (...children: Inline[]): Block => ({ kind: 'para', children });
/** The one paragraph a line of text makes. */
const spans = (s: string, me = ''): Inline[] => {
  const blocks = parse(s, me);
  assert.equal(blocks.length, 1, `one block for ${JSON.stringify(s)}`);
  const [b] = blocks;
  assert.equal(b?.kind, 'para');
  return b?.kind === 'para' ? b.children : [];
};
/** What the reader sees, markers gone. */
function shown(nodes: (Block | Inline)[]): string {
  return nodes
    .map((n) => {
      if ('children' in n) return shown(n.children);
      if ('items' in n) return n.items.map(shown).join('\n');
      return n.text;
    })
    .join('');
}

test('format: plain text is one paragraph of text, as before', () => {
  assert.deepEqual(parse('hello there'), [para(text('hello there'))]);
  assert.deepEqual(parse('two\nlines'), [para(text('two\nlines'))]);
  assert.deepEqual(parse(''), [para()]);
  // Markup is text: nothing here is anything but characters.
  const hostile = '<script>alert(1)</script> <img src=x onerror="alert(2)"> &lt;b&gt;';
  assert.deepEqual(parse(hostile), [para(text(hostile))]);
});

test('format: bold, italic, strikethrough, and nesting', () => {
  assert.deepEqual(spans('**b** *i* _i_ ~~s~~'), [
    { kind: 'strong', children: [text('b')] },
    text(' '),
    { kind: 'em', children: [text('i')] },
    text(' '),
    { kind: 'em', children: [text('i')] },
    text(' '),
    { kind: 's', children: [text('s')] },
  ]);
  assert.deepEqual(spans('**bold *and italic***'), [
    {
      kind: 'strong',
      children: [text('bold '), { kind: 'em', children: [text('and italic')] }],
    },
  ]);
  assert.deepEqual(spans('***both***'), [
    { kind: 'em', children: [{ kind: 'strong', children: [text('both')] }] },
  ]);
  assert.deepEqual(spans('__strong__ over\ntwo *lines\nhere*'), [
    { kind: 'strong', children: [text('strong')] },
    text(' over\ntwo '),
    { kind: 'em', children: [text('lines\nhere')] },
  ]);
});

test('format: unbalanced or misplaced markers stay as typed', () => {
  for (const s of [
    '**not closed',
    'not opened**',
    'a * b * c',
    '2 ** 10',
    'snake_case_name and my_var_',
    '~5 minutes, ~~ alone',
    '**** and ~~~~',
    '*a _b* c_',
    '** spaced **',
  ]) {
    const nodes = parse(s);
    assert.equal(shown(nodes), s.replace('*a _b* c_', 'a _b c_'), s);
  }
  assert.deepEqual(spans('snake_case_name'), [text('snake_case_name')]);
  // Crossed pairs: the first to close wins, the marker inside it stays text.
  assert.deepEqual(spans('*a _b* c_'), [{ kind: 'em', children: [text('a _b')] }, text(' c_')]);
});

test('format: nothing inside code is formatted', () => {
  assert.deepEqual(spans('use `a **b** https://x.example @me` now', 'me'), [
    text('use '),
    { kind: 'code', text: 'a **b** https://x.example @me' },
    text(' now'),
  ]);
  assert.deepEqual(spans('``a ` b`` and ` `` `'), [
    { kind: 'code', text: 'a ` b' },
    text(' and '),
    { kind: 'code', text: '``' },
  ]);
  assert.deepEqual(spans('**`x`**'), [{ kind: 'strong', children: [{ kind: 'code', text: 'x' }] }]);
  assert.deepEqual(spans('an ` alone'), [text('an ` alone')]);
  // Three backticks on one line are a code span.
  assert.deepEqual(spans('```one *line*```'), [{ kind: 'code', text: 'one *line*' }]);
});

test('format: fenced code blocks, the language word ignored', () => {
  assert.deepEqual(parse('look:\n```ts\nconst a = **1**; // _x_\n  > not a quote\n```\ndone'), [
    para(text('look:')),
    { kind: 'pre', text: 'const a = **1**; // _x_\n  > not a quote' },
    para(text('done')),
  ]);
  assert.deepEqual(parse('```\n```'), [{ kind: 'pre', text: '' }]);
  // No closing fence: text, shown as typed.
  assert.deepEqual(parse('```\n*a*'), [para(text('```\n'), { kind: 'em', children: [text('a')] })]);
  // A fence line with more than one word is not a fence.
  assert.equal(parse('```not a fence\nx\n```')[0]?.kind, 'para');
});

test('format: block quotes, nested, and lists', () => {
  assert.deepEqual(parse('> said **this**\n>\n> > and that\nreply'), [
    {
      kind: 'quote',
      children: [
        para(text('said '), { kind: 'strong', children: [text('this')] }, text('\n')),
        { kind: 'quote', children: [para(text('and that'))] },
      ],
    },
    para(text('reply')),
  ]);
  assert.deepEqual(parse('>no space\n> '), [
    para(text('>no space')),
    { kind: 'quote', children: [para()] },
  ]);
  assert.deepEqual(parse('todo:\n- one\n* *two*\n3. three\n4) four\nend'), [
    para(text('todo:')),
    { kind: 'ul', items: [[text('one')], [{ kind: 'em', children: [text('two')] }]] },
    { kind: 'ol', start: 3, items: [[text('three')], [text('four')]] },
    para(text('end')),
  ]);
  for (const s of ['-1 degrees', '1.5 litres', '- ', '**bold** start', '10000000000. big']) {
    assert.notEqual(parse(s)[0]?.kind, 'ul', s);
    assert.notEqual(parse(s)[0]?.kind, 'ol', s);
  }
});

test('format: links are the safe ones, whole, inside formatting', () => {
  assert.deepEqual(spans('**https://x.example/a_b_c** and _https://y.example/~z_'), [
    {
      kind: 'strong',
      children: [
        { kind: 'link', text: 'https://x.example/a_b_c', href: 'https://x.example/a_b_c' },
      ],
    },
    text(' and '),
    {
      kind: 'em',
      children: [{ kind: 'link', text: 'https://y.example/~z', href: 'https://y.example/~z' }],
    },
  ]);
  assert.deepEqual(spans('[x](javascript:alert(1)) data:text/html,x'), [
    text('[x](javascript:alert(1)) data:text/html,x'),
  ]);
  assert.equal(safeHref('mailto:bob@example.com'), 'mailto:bob@example.com');
  assert.equal(safeHref('mailto:javascript:alert(1)'), null);
  assert.equal(safeHref('mailto:'), null);
  assert.equal(safeHref('mailto:a@'), null);
  assert.deepEqual(tokenize('write mailto:bob@example.com?subject=hi.'), [
    text('write '),
    {
      kind: 'link',
      text: 'mailto:bob@example.com?subject=hi',
      href: 'mailto:bob@example.com?subject=hi',
    },
    text('.'),
  ]);
  // The domain of an address is shown as it resolves, like a link's host.
  const spoof = tokenize('mailto:x@\u0430pple.com')[0];
  assert.equal(spoof?.kind === 'link' ? spoof.host : 'no link', 'xn--pple-43d.com');
});

test('format: your @name is marked in formatting, not in code', () => {
  assert.deepEqual(spans('**@alice** `@alice` _@Alice_', 'alice'), [
    { kind: 'strong', children: [{ kind: 'mention', text: '@alice' }] },
    text(' '),
    { kind: 'code', text: '@alice' },
    text(' '),
    { kind: 'em', children: [{ kind: 'mention', text: '@Alice' }] },
  ]);
  // A name made of markers is still the name.
  assert.deepEqual(spans('hi @_x_', '_x_'), [text('hi '), { kind: 'mention', text: '@_x_' }]);
  assert.deepEqual(parse('> @bob\n- @bob', 'bob'), [
    { kind: 'quote', children: [para({ kind: 'mention', text: '@bob' })] },
    { kind: 'ul', items: [[{ kind: 'mention', text: '@bob' }]] },
  ]);
});

/** Steps to parse `make(n)`, for a doubling n. */
function stepsFor(make: (n: number) => string, n: number): number {
  cost.steps = 0;
  parse(make(n), 'alice');
  return cost.steps;
}

test('format: hostile input takes steps linear in its length and keeps its text', () => {
  const KiB = 1024;
  const cases: Record<string, (n: number) => string> = {
    stars: (n) => '*'.repeat(n),
    'star words': (n) => '*a '.repeat(n / 3),
    'open bold': (n) => '**a '.repeat(n / 4),
    'nested openers': (n) => '*_~~'.repeat(n / 4) + 'x',
    underscores: (n) => '_a'.repeat(n / 2),
    backticks: (n) => '`'.repeat(n),
    'growing backtick runs': (n) => {
      let s = '';
      for (let k = 1; s.length < n; k++) s += '`'.repeat(k) + 'a';
      return s;
    },
    fences: (n) => '```\n'.repeat(n / 4),
    'unclosed fences': (n) => '```js\n'.repeat(n / 6),
    quotes: (n) => '> '.repeat(n / 2),
    'quote lines': (n) => '> > > > > > > > x\n'.repeat(n / 18),
    'list lines': (n) => '- *a\n1. _b\n'.repeat(n / 11),
    'url with brackets': (n) => 'https://x.example/' + ')'.repeat(n),
    'url stars': (n) => 'https://x.example/' + '*'.repeat(n),
    'mention punctuation': (n) => '@alice' + '!'.repeat(n),
    'mention markers': (n) => '@' + '*'.repeat(n),
  };
  for (const [name, make] of Object.entries(cases)) {
    const small = stepsFor(make, 16 * KiB);
    const big = stepsFor(make, 64 * KiB);
    assert.ok(big <= 4.5 * small + 100, `${name}: ${small} steps at 16 KiB, ${big} at 64 KiB`);
  }
  // What cannot pair up is all still there.
  for (const s of ['*'.repeat(16 * KiB), '`'.repeat(16 * KiB), '**a '.repeat(4 * KiB)])
    assert.equal(shown(parse(s)), s);
});
