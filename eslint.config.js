// ESLint for the whole tree: typescript-eslint with type information (one program from
// tsconfig.test.json, which covers every package's src and test). Formatting is Prettier's job.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Units and qualifiers go last (STYLE.md): `timeoutMs`, `batchBytesMax`, not `msTimeout` or
 * `maxBatchBytes`. A unit followed only by its qualifier (`ticksMax`) is allowed.
 */
const unitsOrQualifiersFirst = '^((ms|us|ns|sec|secs|seconds|ticks)(?!Max$|Min$)|max|min|num)[A-Z]';
/**
 * Names that belong to someone else's protocol or API and keep its spelling: Kafka's Fetch request
 * (`maxWaitMs`, `minBytes`, `maxBytes`) and record batch header (`maxTimestamp`), Kubernetes
 * (`maxUnavailable`), fast-check (`maxLength`).
 */
const foreignNames = '^(maxWaitMs|minBytes|maxBytes|maxTimestamp|maxUnavailable|maxLength)$';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/*.js', '**/*.mjs', 'charts/**', 'tools/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        project: ['./tsconfig.test.json', './packages/client/examples/tsconfig.json', './tsconfig.lint.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/naming-convention': [
        'error',
        {
          selector: ['variable', 'parameter', 'classProperty', 'classMethod', 'function', 'typeProperty', 'accessor'],
          format: null,
          filter: { regex: foreignNames, match: false },
          custom: { regex: unitsOrQualifiersFirst, match: false },
        },
        { selector: 'typeLike', format: ['PascalCase'] },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      // `x == null` is the one loose comparison kept: null or undefined, on purpose.
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      // A closure that reads a variable assigned once, later (a callback wired before the object exists).
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // Rethrowing or rejecting with a caught `unknown` passes the error on untouched, as it should.
      '@typescript-eslint/only-throw-error': ['error', { allowThrowingUnknown: true }],
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // An async function without await is how an implementation of a Promise-returning interface
      // turns a throw into a rejection (fakes, seams, handlers): dropping `async` would make those
      // throws synchronous, which callers do not expect.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // vitest's asymmetric matchers (`expect.any(Array)`) are typed `any` by vitest itself.
    files: ['**/*.test.ts'],
    rules: { '@typescript-eslint/no-unsafe-assignment': 'off' },
  },
);
