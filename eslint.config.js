import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.local/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', URL: 'readonly', fetch: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly' } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  // Every PostgreSQL connection comes from src/pg/connect.ts, which pins the session settings the
  // decoders rely on: elsewhere in src/, pg is imported for its types only, and the replication
  // library only where the replication stream hands it the factory's settings.
  ...connectionFactoryOnly(),
);

function connectionFactoryOnly() {
  const factory = 'src/pg/connect.ts';
  const replication = 'src/source/cdc/replication-stream.ts';
  const pg = { name: 'pg', allowTypeImports: true, message: 'Open PostgreSQL connections through src/pg/connect.ts (newClient, connectionConfig): it pins DateStyle, IntervalStyle and extra_float_digits.' };
  const logical = { name: 'pg-logical-replication', message: 'The replication connection is src/source/cdc/replication-stream.ts, with the settings of src/pg/connect.ts.' };
  const restrict = (paths) => ({ '@typescript-eslint/no-restricted-imports': ['error', { paths }] });
  return [
    { files: ['src/**/*.ts'], ignores: [factory, replication], rules: restrict([pg, logical]) },
    { files: [replication], rules: restrict([pg]) },
    { files: [factory], rules: restrict([logical]) },
  ];
}
