// Type-aware lint for the TypeScript sources and the Node scripts (`npm run lint`).
import js from '@eslint/js';
import globals from 'globals';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'coverage/**',
      'test/go/**',
      'test/fixtures/**',
      'bench/results/**',
      'bin/**',
    ],
  },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: { ...globals.node },
      parserOptions: {
        // One TypeScript program per tsconfig.json, as `npm run typecheck` sees it.
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          args: 'after-used',
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { prefer: 'type-imports', fixStyle: 'inline-type-imports', disallowTypeAnnotations: true },
      ],
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test's top-level describe/it/test return promises that the runner tracks and reports itself;
          // calling them bare is node's documented usage. Subtests (t.test) are still checked.
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      // A promise returned unawaited from a try block escapes its catch and finally.
      '@typescript-eslint/return-await': ['error', 'error-handling-correctness-only'],
      // Error codes, manifest kinds and policy outcomes are unions: a new member must be handled where they are switched on.
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/consistent-type-exports': 'error',
      '@typescript-eslint/no-deprecated': 'error',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      // Off: an async function without an await is how this code meets a Promise-returning seam (injected fakes,
      // readiness probes, waitFor predicates, digest callbacks) while a throw still becomes a rejection; rewriting
      // them as Promise.resolve(...) would turn such throws synchronous. Missed awaits are what
      // no-floating-promises and return-await catch.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // Tests read JSON answers (OCI error bodies, bundles, manifests) and assert on their fields: a wrong shape fails
    // the assertion itself. The no-unsafe-* rules stay on for everything that ships.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // Plain JavaScript outside the TypeScript project: no type information to lint with.
    files: ['**/*.mjs', '**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);
