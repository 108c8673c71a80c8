// ESLint 9 flat config: typescript-eslint with type information (the root tsconfig.json, which includes the
// tests) and vitest's rules for test files. `pnpm lint` runs it; .ci/run fails when it fails.
import js from '@eslint/js';
import vitest from '@vitest/eslint-plugin';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['**/dist/**', '**/node_modules/**', 'bench/results/**', '**/.turbo/**', '**/.larder/**'] },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { project: './tsconfig.json', tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
      // A rejection reason passed on as caught (`catch (err) { reject(err) }`) is whatever was thrown.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // Off: noise here. `any` flows come from `res.json()`, `JSON.parse` and `.catch((err) => …)`;
      // async methods without `await` implement Promise-returning interfaces; interface methods are
      // implemented by closures, so passing one as a value is safe.
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    files: ['**/*.test.ts', '**/test-*.ts'],
    plugins: { vitest },
    rules: {
      ...vitest.configs.recommended.rules,
      // An un-awaited expect(...).resolves/.rejects cannot fail the test: always await it.
      // vitest's expect takes a message as its second argument.
      'vitest/valid-expect': ['error', { alwaysAwait: true, maxArgs: 2 }],
      // Helpers such as expectFormatError assert.
      'vitest/expect-expect': ['error', { assertFunctionNames: ['expect', 'expect*', 'assert', 'assert*'] }],
      // Off: fuzz loops and tests of optional tools assert inside try/catch or if on purpose.
      'vitest/no-conditional-expect': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    extends: [js.configs.recommended],
    languageOptions: { globals: { URL: 'readonly', process: 'readonly', console: 'readonly' } },
  },
);
