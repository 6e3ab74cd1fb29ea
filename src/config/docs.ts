import { configVariables, type ConfigScope } from './schema.ts';

function renderDefault(value: unknown): string {
  if (value === '') return '(empty)';
  return '`' + String(value) + '`';
}

const SCOPE_TITLES: Record<ConfigScope, string[]> = {
  worker: [
    '## Process settings',
    '',
    'Shared by every connector of the process: the management API, logging, the Kafka cluster, the',
    'schema registry and the timeouts (`src/config/worker-schema.ts`).',
  ],
  connector: [
    '## Connector settings',
    '',
    "One CDC connector's source, Kafka transactions and topics, events and batches",
    '(`src/config/connector-schema.ts`). `walcast run` reads them from the environment like the',
    'process settings.',
  ],
  sink: [
    '## Sink settings',
    '',
    "`walcast sink`'s target database, topics and apply rules (`src/config/sink-schema.ts`), read from",
    'the environment beside the process settings ([sink.md](sink.md)).',
  ],
};

/** The configuration reference, generated from the schemas. */
export function renderConfigDocs(): string {
  // Placeholders like <slot> would be read as HTML tags by Markdown renderers.
  const escape = (text: string): string => text.replaceAll('|', '\\|').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
  const table = (scope: ConfigScope): string[] => [
    ...SCOPE_TITLES[scope],
    '',
    '| Variable | Default | Meaning |',
    '|---|---|---|',
    ...configVariables(scope).map(
      (v) => `| \`${v.env}\` | ${renderDefault(v.default)} | ${escape(v.doc)}${v.sensitive ? ` *(secret: never logged; or from a file named in \`${v.env}_FILE\`)*` : ''} |`,
    ),
    '',
  ];
  return [
    '# Configuration reference',
    '',
    'Generated from `src/config/worker-schema.ts`, `src/config/connector-schema.ts` and',
    '`src/config/sink-schema.ts` by',
    '`npm run docs:config`; do not edit by hand.',
    '',
    'walcast reads only environment variables. Every variable is validated at start; an unknown',
    '`WALCAST_*` variable is refused with a did-you-mean, and all problems are reported at once',
    '(exit code 2).',
    '',
    'Every secret (marked below) can instead be read from a file named by the same variable with',
    '`_FILE` appended, as containers and Kubernetes mount secrets: `WALCAST_KAFKA_SASL_PASSWORD_FILE=/run/secrets/kafka`.',
    'Trailing line breaks in the file are ignored; setting both the variable and its `_FILE` is an error.',
    'Files of certificates and keys (`*_LOCATION`, `WALCAST_PG_SSL_*`, `WALCAST_SINK_PG_SSL_*`) are read and checked at start:',
    'an unreadable file, a key that does not match its certificate or a wrong passphrase stops walcast',
    'with exit code 2 and the variable named.',
    '',
    ...table('worker'),
    ...table('connector'),
    ...table('sink'),
  ].join('\n');
}
