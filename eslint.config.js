// ESLint 9 flat config (`npm run lint`): import cycles and non-kebab-case file names are errors, and
// typescript-eslint's recommended rules apply where the tree already follows them.
import importX, { createNodeResolver } from 'eslint-plugin-import-x';
import unicorn from 'eslint-plugin-unicorn';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', '**/.turbo/**', '**/coverage/**', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { 'import-x': importX, unicorn },
    settings: {
      // Follow relative .ts imports when looking for cycles; packages (@seco/*) are acyclic by their package.json.
      'import-x/extensions': ['.ts'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js'] })],
    },
    rules: {
      // Type-only imports are erased, so they cannot form a cycle at run time.
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'unicorn/filename-case': ['error', { case: 'kebabCase', ignore: [/^layer_norm\.test\.ts$/] }],
      // `_`-prefixed names are deliberately unused (a parameter kept for the signature, a destructured rest).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // `t.storage;` reads a getter that throws for a disposed tensor; such statements are deliberate here.
      '@typescript-eslint/no-unused-expressions': 'off',
    },
  },
  {
    // sum's backward uses expand (view.ts) and expand's backward uses sum (reduce.ts): the one known cycle, which
    // goes once sum's kernel moves out of reduce.ts. Listed here so that any other cycle fails.
    files: ['packages/tensor/src/ops/{elementwise,view,reduce,sum-to-shape}.ts'],
    rules: { 'import-x/no-cycle': 'off' },
  },
);
