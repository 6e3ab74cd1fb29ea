import { configVariables } from './schema.ts';

function renderDefault(value: unknown): string {
  if (value === '') return '(empty)';
  return '`' + String(value) + '`';
}

/** The configuration reference, generated from the schema. */
export function renderConfigDocs(): string {
  // Placeholders like <slot> would be read as HTML tags by Markdown renderers.
  const escape = (text: string): string => text.replaceAll('|', '\\|').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
  const rows = configVariables().map(
    (v) => `| \`${v.env}\` | ${renderDefault(v.default)} | ${escape(v.doc)}${v.sensitive ? ' *(secret: never logged)*' : ''} |`,
  );
  return [
    '# Configuration reference',
    '',
    'Generated from `src/config/schema.ts` by `npm run docs:config`; do not edit by hand.',
    '',
    'walcast reads only environment variables. Every variable is validated at start; an unknown',
    '`WALCAST_*` variable is refused with a did-you-mean, and all problems are reported at once',
    '(exit code 2).',
    '',
    '| Variable | Default | Meaning |',
    '|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
