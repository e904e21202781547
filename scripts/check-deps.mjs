// Enforces the dependency rules of the monorepo on every workspace's src/**/*.ts:
//   core-purity:           a package whose directory ends in /core imports only relative paths and @bank/kernel,
//                          so the domain model stays free of I/O, frameworks and Node itself. Its test
//                          files may also use @bank/testkit, where the in-memory fakes of its ports live.
//   deep-import:           packages talk through their public entry point only, never through
//                          `@bank/x/some/file` or a relative path that climbs out of the package.
//   undeclared-dependency: every bare import is declared in that workspace's package.json, so builds
//                          do not depend on whatever npm happened to hoist into the root node_modules.
//   package-cycle:         no cycle among the workspaces through their non-test imports, so that each
//                          package builds on the ones below it. (Tests may close a loop through testkit,
//                          which holds the fakes and contract suites of the packages it tests.)
// Specifiers are found with regular expressions over comment-stripped source: no parser is needed
// for import syntax, and the script stays dependency-free.
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const SKIPPED_DIRS = new Set(['node_modules', 'dist']);
const GENERATED_DIR = 'gen'; // src/gen is ts-proto output, checked by proto:check instead.
const CORE_DIR_SUFFIX = '/core';
const KERNEL = '@bank/kernel';
const TESTKIT = '@bank/testkit';
const OWN_SCOPE = '@bank/';
const BUILTINS = new Set(builtinModules);
const DEPENDENCY_FIELDS = ['dependencies', 'devDependencies', 'peerDependencies'];

// Every form of module reference; the specifier is always capture group 2.
const SPECIFIER_PATTERNS = [
  // Only names, braces, commas and `*` may stand between the keyword and `from`, so a match
  // cannot start at an unrelated `export const ...` and swallow the lines after it.
  /(?<![\w$.])(?:import|export)\s[\w$\s{},*]*?\bfrom\s*(['"])([^'"]+)\1/g, // import/export ... from '...'
  /(?<![\w$.])import\s*(['"])([^'"]+)\1/g, // import './side-effect'
  /(?<![\w$.])(?:import|require)\s*\(\s*(['"])([^'"]+)\1\s*\)/g, // import('...'), require('...'), import x = require('...')
];

const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));
const toPosix = (p) => p.split(path.sep).join('/');

/** Workspace directories from the root package.json; `dir/*` entries expand to the subfolders. */
function workspaceDirs(patterns) {
  return patterns.flatMap((pattern) => {
    if (!pattern.endsWith('/*')) return [path.join(ROOT, pattern)];
    const parent = path.join(ROOT, pattern.slice(0, -2));
    if (!existsSync(parent)) return [];
    return readdirSync(parent, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => path.join(parent, e.name));
  }).filter((dir) => existsSync(path.join(dir, 'package.json')));
}

function sourceFiles(dir, srcRoot = dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      const generated = dir === srcRoot && entry.name === GENERATED_DIR;
      return SKIPPED_DIRS.has(entry.name) || generated ? [] : sourceFiles(full, srcRoot);
    }
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** Blanks out comments but keeps strings and newlines, so match offsets still map to the right line. */
function stripComments(text) {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') { out += ' '; i++; }
      out += text[i] ?? '';
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end === -1 ? text.length : end + 2;
      out += text.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop - 1;
    } else if (c === '"' || c === "'" || c === '`') {
      // Copy the string verbatim so a `//` inside it (a URL, say) is not taken for a comment.
      let j = i + 1;
      while (j < text.length && text[j] !== c) j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j;
    } else {
      out += c;
    }
  }
  return out;
}

/** The module specifiers of one file with their line numbers, in source order. */
function importsOf(file) {
  const text = stripComments(readFileSync(file, 'utf8'));
  return SPECIFIER_PATTERNS.flatMap((pattern) => [...text.matchAll(pattern)].map((match) => ({
    specifier: match[2],
    line: text.slice(0, match.index).split('\n').length,
  }))).sort((a, b) => a.line - b.line);
}

const isRelative = (s) => s === '.' || s === '..' || s.startsWith('./') || s.startsWith('../');
const packageNameOf = (s) => s.split('/').slice(0, s.startsWith('@') ? 2 : 1).join('/');
const isBuiltin = (s) => s.startsWith('node:') || BUILTINS.has(s) || BUILTINS.has(packageNameOf(s));
const declaredIn = (manifest) => new Set(DEPENDENCY_FIELDS.flatMap((field) => Object.keys(manifest[field] ?? {})));

/** The rule violations of one import, as messages keyed by rule name. */
function check({ specifier, file, pkg, rootDevDeps }) {
  const problems = [];
  if (isRelative(specifier)) {
    const target = path.resolve(path.dirname(file), specifier);
    const inside = path.relative(pkg.dir, target);
    if (inside.startsWith('..') || path.isAbsolute(inside)) {
      problems.push(['deep-import', `'${specifier}' climbs out of ${pkg.name}; import the other package by name`]);
    }
    return problems;
  }
  const name = packageNameOf(specifier);
  const isTest = file.endsWith('.test.ts');
  if (pkg.isCore && specifier !== KERNEL && !(isTest && specifier === TESTKIT)) {
    problems.push(['core-purity', `'${specifier}' is not allowed in a core package (only relative paths and ${KERNEL})`]);
  }
  if (name.startsWith(OWN_SCOPE) && specifier !== name) {
    problems.push(['deep-import', `'${specifier}' reaches into ${name}; import '${name}' instead`]);
  }
  if (isBuiltin(specifier)) return problems;
  if (!pkg.declared.has(name) && !(isTest && rootDevDeps.has(name))) {
    problems.push(['undeclared-dependency', `'${name}' is not declared in ${pkg.name}'s package.json`]);
  }
  return problems;
}

const rootManifest = readJson(path.join(ROOT, 'package.json'));
const rootDevDeps = new Set(Object.keys(rootManifest.devDependencies ?? {}));
const packages = workspaceDirs(rootManifest.workspaces ?? []).map((dir) => {
  const manifest = readJson(path.join(dir, 'package.json'));
  return { dir, name: manifest.name ?? toPosix(path.relative(ROOT, dir)), declared: declaredIn(manifest), isCore: toPosix(dir).endsWith(CORE_DIR_SUFFIX) };
});

let fileCount = 0;
const violations = [];
const workspaceNames = new Set(packages.map((p) => p.name));
/** package name -> the workspaces its non-test sources import. */
const packageImports = new Map(packages.map((p) => [p.name, new Set()]));
for (const pkg of packages) {
  for (const file of sourceFiles(path.join(pkg.dir, 'src'))) {
    fileCount++;
    for (const { specifier, line } of importsOf(file)) {
      const imported = packageNameOf(specifier);
      if (!file.endsWith('.test.ts') && workspaceNames.has(imported) && imported !== pkg.name) packageImports.get(pkg.name).add(imported);
      for (const [rule, message] of check({ specifier, file, pkg, rootDevDeps })) {
        violations.push(`${toPosix(path.relative(ROOT, file))}:${line}: ${rule}: ${message}`);
      }
    }
  }
}

/** Each cycle in a graph of package name -> names it imports, as the names along it. */
function cyclesOf(graph) {
  const cycles = [];
  const state = new Map(); // name -> 'visiting' | 'done'
  const stack = [];
  const visit = (name) => {
    state.set(name, 'visiting');
    stack.push(name);
    for (const next of [...(graph.get(name) ?? [])].sort()) {
      if (state.get(next) === 'visiting') cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(name, 'done');
  };
  for (const name of [...graph.keys()].sort()) if (!state.has(name)) visit(name);
  return cycles;
}

for (const cycle of cyclesOf(packageImports)) {
  violations.push(`package-cycle: ${cycle.join(' -> ')}`);
}

if (violations.length > 0) {
  console.error(violations.join('\n'));
  console.error(`check-deps: ${violations.length} violation(s) in ${fileCount} files`);
  process.exit(1);
}
console.log(`check-deps: ${fileCount} files in ${packages.length} packages, no violations`);
