// The names of the page's own methods, for the page build to shorten (esbuild's mangleProps).
// The page bundles no code but its own and the protocol's, so a method name it declares is
// called only by its own code, and renaming every use of it at once keeps the page whole. The
// names that could reach anything else are left as written:
// - any word of TypeScript's lib files (the DOM, workers, the language: what the browser calls);
// - any word of the protocol's modules (the wire: fields, kinds that pick a handler by name);
// - any word inside a string in the page (a name looked up by a string);
// - a name the page also gives data (a field, a key of an object literal): data can be stored,
//   sent or cloned, where a renamed key would not be read back.
// A method is a method declaration or signature, or a property typed as a function.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

const WORD = /[A-Za-z_$][\w$]*/g;

function words(text: string, into: Set<string>): void {
  for (const w of text.match(WORD) ?? []) into.add(w);
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => n.endsWith('.ts'))
    .map((n) => join(dir, n));
}

const isFunctionValue = (e: ts.Expression): boolean =>
  ts.isArrowFunction(e) || ts.isFunctionExpression(e);

/** The page's method names that no code but the page's own can see, sorted. */
export function pageMethodNames(root: string): string[] {
  const methods = new Set<string>();
  const kept = new Set<string>();
  const libDir = join(root, 'node_modules', 'typescript', 'lib');
  for (const f of readdirSync(libDir).filter((n) => /^lib\..*\.d\.ts$/.test(n)))
    words(readFileSync(join(libDir, f), 'utf8'), kept);
  for (const f of tsFiles(join(root, 'src', 'protocol'))) words(readFileSync(f, 'utf8'), kept);

  for (const f of tsFiles(join(root, 'src', 'client'))) {
    const sf = ts.createSourceFile(f, readFileSync(f, 'utf8'), ts.ScriptTarget.ES2022, true);
    const visit = (n: ts.Node): void => {
      if (ts.isStringLiteralLike(n) || ts.isTemplateLiteralToken(n)) {
        words(n.text, kept);
      } else if (ts.isMethodDeclaration(n) || ts.isMethodSignature(n)) {
        if (ts.isIdentifier(n.name)) methods.add(n.name.text);
      } else if (ts.isPropertySignature(n) || ts.isPropertyDeclaration(n)) {
        if (ts.isIdentifier(n.name)) {
          const fn =
            (n.type !== undefined && ts.isFunctionTypeNode(n.type)) ||
            (ts.isPropertyDeclaration(n) &&
              n.type === undefined &&
              n.initializer !== undefined &&
              isFunctionValue(n.initializer));
          (fn ? methods : kept).add(n.name.text);
        }
      } else if (ts.isPropertyAssignment(n)) {
        if (ts.isIdentifier(n.name) && !isFunctionValue(n.initializer)) kept.add(n.name.text);
      } else if (ts.isShorthandPropertyAssignment(n)) {
        kept.add(n.name.text);
      } else if (ts.isBindingElement(n) && n.propertyName && ts.isIdentifier(n.propertyName)) {
        kept.add(n.propertyName.text);
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return [...methods].filter((m) => !kept.has(m)).sort();
}

/** The esbuild mangleProps pattern for those names. */
export function pageMangleProps(root: string): RegExp {
  return new RegExp(`^(?:${pageMethodNames(root).join('|')})$`);
}
