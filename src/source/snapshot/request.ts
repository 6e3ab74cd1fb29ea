/**
 * Debezium's execute-snapshot data, as the management API, `walcast snapshot` and the Kafka signal
 * channel receive it.
 */
import type { SnapshotRequest } from '../../connector.ts';

/** Debezium's execute-snapshot signal data. */
export interface ExecuteSnapshotData {
  'data-collections'?: unknown;
  type?: unknown;
  'additional-conditions'?: unknown;
}

/** Reads Debezium's execute-snapshot data into a request, or says precisely what is wrong. */
export function snapshotRequest(data: ExecuteSnapshotData): SnapshotRequest | string {
  const tables = data['data-collections'];
  if (!Array.isArray(tables) || tables.length === 0 || !tables.every((t) => typeof t === 'string' && t !== '')) {
    return '"data-collections" must be a non-empty array of "schema.table" names';
  }
  if (data.type !== undefined && (typeof data.type !== 'string' || data.type.toLowerCase() !== 'incremental')) {
    return `"type" ${JSON.stringify(data.type)} is not supported: walcast runs incremental snapshots (blocking ones are not needed: streaming goes on)`;
  }
  const filters: Record<string, string> = {};
  const conditions = data['additional-conditions'] ?? [];
  if (!Array.isArray(conditions)) return '"additional-conditions" must be an array of {"data-collection", "filter"}';
  for (const condition of conditions as unknown[]) {
    const c = condition as { 'data-collection'?: unknown; filter?: unknown } | null;
    if (typeof c?.['data-collection'] !== 'string' || typeof c.filter !== 'string' || c.filter.trim() === '') {
      return 'each additional condition needs a "data-collection" and a non-empty "filter"';
    }
    filters[c['data-collection']] = c.filter;
  }
  return { tables: tables as string[], filters };
}
