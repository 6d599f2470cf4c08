// The public functions and classes of every package, read from each package's `src/index.ts` with the
// TypeScript compiler (so the docs tests follow the code, not a list kept by hand).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { rootDir } from './site.js';

export const PACKAGE_DIRS = ['core', 'node-streams', 'web-streams', 'cli', 'redis'].filter((dir) =>
  existsSync(join(rootDir, 'packages', dir, 'src', 'index.ts')),
);

export interface ExportedCallable {
  /** The package directory under packages/ (core, node-streams, ...). */
  dir: string;
  name: string;
  kind: 'function' | 'class';
  /** TSDoc tags the function (or the class's constructor) lacks: `@param x`, `@returns`, `@throws`, `@example`. */
  missingTags: string[];
}

/** The tags a reader needs: every parameter, the return value (not for a constructor), what it throws, an example. */
function missingTags(declaration: ts.SignatureDeclaration, isConstructor: boolean): string[] {
  const tags = ts.getJSDocTags(declaration);
  const documented = new Set(
    tags
      .filter(ts.isJSDocParameterTag)
      .filter((tag) => ts.getTextOfJSDocComment(tag.comment)?.trim())
      .map((tag) => tag.name.getText()),
  );
  const has = (name: string) => tags.some((tag) => tag.tagName.text === name);
  // A class's @example may sit on the class itself.
  const classHas = (name: string) =>
    isConstructor &&
    ts.getJSDocTags(declaration.parent as ts.ClassDeclaration).some((tag) => tag.tagName.text === name);
  return [
    ...declaration.parameters
      .map((parameter) => parameter.name.getText())
      .filter((name) => !documented.has(name))
      .map((name) => `@param ${name}`),
    ...(isConstructor || has('returns') ? [] : ['@returns']),
    ...(has('throws') ? [] : ['@throws']),
    ...(has('example') || classHas('example') ? [] : ['@example']),
  ];
}

/**
 * Every function and class a package's entry exports and declares itself (re-exports of another
 * package's symbols belong to that package), in source order.
 */
export function exportedCallables(): ExportedCallable[] {
  const entries = PACKAGE_DIRS.map((dir) => join(rootDir, 'packages', dir, 'src', 'index.ts'));
  const program = ts.createProgram(entries, {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    noEmit: true,
    skipLibCheck: true,
    baseUrl: rootDir,
    paths: Object.fromEntries(PACKAGE_DIRS.map((dir) => [`@lac/${dir}`, [`packages/${dir}/src/index.ts`]])),
  });
  const checker = program.getTypeChecker();
  const found: ExportedCallable[] = [];
  PACKAGE_DIRS.forEach((dir, i) => {
    const source = program.getSourceFile(entries[i]!);
    const moduleSymbol = source && checker.getSymbolAtLocation(source);
    if (!moduleSymbol) throw new Error(`TypeScript could not read ${entries[i]}`);
    const packageSrc = join(rootDir, 'packages', dir, 'src');
    for (const exported of checker.getExportsOfModule(moduleSymbol)) {
      const target = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      const declaration = target.declarations?.[0];
      if (!declaration?.getSourceFile().fileName.startsWith(packageSrc)) continue;
      if (target.flags & ts.SymbolFlags.Class) {
        const constructor = (declaration as ts.ClassDeclaration).members.find(ts.isConstructorDeclaration);
        found.push({
          dir,
          name: exported.name,
          kind: 'class',
          missingTags: constructor ? missingTags(constructor, true) : [],
        });
      } else if (target.flags & ts.SymbolFlags.Function && ts.isFunctionDeclaration(declaration)) {
        found.push({ dir, name: exported.name, kind: 'function', missingTags: missingTags(declaration, false) });
      }
    }
  });
  return found;
}
