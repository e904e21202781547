// ESLint 9 flat config. It uses the syntax-only typescript-eslint presets: type-aware rules
// (no-floating-promises and friends) would need a full type check on every run, and `tsc -b`
// already does that once in the build.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

// The Node globals the .mjs scripts use; listed by hand so the config needs no `globals` package.
const NODE_GLOBALS = { console: 'readonly', process: 'readonly', URL: 'readonly', Buffer: 'readonly' };

export default defineConfig([
  // Generated code, build output and local data are not ours to lint.
  globalIgnores([
    '**/dist/**',
    '**/node_modules/**',
    'packages/contracts/src/gen/**',
    '**/*.js',
    '.data/**',
    'coverage/**',
  ]),
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    rules: {
      // A leading underscore marks a parameter or binding as deliberately unused.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      // Services log through the structured logger; stray console output bypasses it.
      'no-console': 'error',
    },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { globals: NODE_GLOBALS },
  },
  {
    // Command-line tools, scripts and benchmarks talk to a human on a terminal.
    files: ['cli/**', 'scripts/**', '**/bench/**'],
    rules: { 'no-console': 'off' },
  },
]);
