// Lint: typescript-eslint's type-checked recommendations, set to what the code already does.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'dist-artifacts/**', 'node_modules/**', '.tap/**', 'coverage/**', 'test/fixtures/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: { allowDefaultProject: ['*.js', 'bin/*.js', 'scripts/smoke/*.cjs'] }, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // `_name` marks a parameter a callback's shape requires but this one does not read.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Interfaces here are async throughout (client authentication, token sources); an implementation that needs no await stays async to match.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // tap's idiom: t.test() calls are not awaited (tap runs them in order), and test callbacks are async whether or not they await.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [{ from: 'package', package: '@tapjs/test', name: ['test', 'skip', 'todo', 'only'] }] }],
      // Tests take apart what servers answered (JSON.parse, YAML documents, browser DOM values): any-typed by nature, checked by the assertions.
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
    },
  },
  {
    // Config files and the Wine preload are plain JavaScript outside the TypeScript project.
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { ...tseslint.configs.disableTypeChecked.languageOptions, globals: { require: 'readonly', module: 'writable', process: 'readonly', console: 'readonly', URL: 'readonly' } },
    // A CommonJS preload loads Node's modules with require.
    rules: { ...tseslint.configs.disableTypeChecked.rules, '@typescript-eslint/no-require-imports': 'off' },
  },
);
