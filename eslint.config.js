// ESLint for the whole tree: typescript-eslint with type information (one program from
// tsconfig.test.json, which covers every package's src and test). Formatting is Prettier's job.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Units and qualifiers go last (STYLE.md): `timeoutMs`, `batchBytesMax`, not `msTimeout` or `maxBatchBytes`. */
const unitsOrQualifiersFirst = '^(ms|us|ns|sec|secs|seconds|bytes|ticks|max|min|num)[A-Z]';

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
          custom: { regex: unitsOrQualifiersFirst, match: false },
        },
        { selector: 'typeLike', format: ['PascalCase'] },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      eqeqeq: ['error', 'always'],
    },
  },
);
