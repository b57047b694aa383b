// How one Kafka topic maps onto one table: column names and types, conflict key and write
// mode. The four market-data topics are built in (config/builtin-mappings.ts); config can add
// or replace mappings, so the worker is not tied to those shapes. Names are validated here
// and quoted by the SQL builders; nothing from a message is ever put into SQL text.
import { isValidIdentifier } from './sql-identifier.js';

export type ColumnType =
  | 'text'
  | 'uuid'
  | 'timestamptz'
  | 'date'
  | 'numeric'
  | 'bigint'
  | 'integer'
  | 'double'
  | 'boolean'
  | 'jsonb';

export interface ColumnSpec {
  /** Column name in the table and field name in the JSON message. */
  readonly name: string;
  readonly type: ColumnType;
  /** A message without this field (or with null) is invalid. Default false. */
  readonly required?: boolean;
  /** text: maximum length in characters (the column's varchar limit). */
  readonly maxLength?: number;
  /** numeric/bigint/integer/double: inclusive bounds. */
  readonly min?: number;
  readonly max?: number;
  /** text: the allowed values. */
  readonly enum?: readonly string[];
  /** text: upper-case the value before writing (symbols). */
  readonly upperCase?: boolean;
  /** uuid: when absent, use the configured DEFAULT_TENANT_ID. */
  readonly defaultTenant?: boolean;
  /** SQL type used in migrations; informational for custom mappings. */
  readonly sqlType?: string;
}

/** How rows are written: upsert, insert with conflicts ignored, or plain COPY (append-only). */
export const WRITE_MODES = ['upsert', 'insert', 'copy'] as const;
export type WriteMode = (typeof WRITE_MODES)[number];

export interface TopicMapping {
  /** Topic name without the prefix (e.g. `bars` for `md.bars`). */
  readonly topicSuffix: string;
  readonly table: string;
  readonly columns: readonly ColumnSpec[];
  /** Conflict key (the table's primary key); required for upsert/insert modes. */
  readonly key: readonly string[];
  readonly mode: WriteMode;
}

/** Returns a list of problems (empty when the mapping is usable). */
export function validateMapping(m: TopicMapping): string[] {
  const problems: string[] = [];
  const where = `mapping for topic suffix ${JSON.stringify(m.topicSuffix)}`;
  if (!/^[A-Za-z0-9._-]{1,200}$/.test(m.topicSuffix))
    problems.push(`${where}: topicSuffix must match [A-Za-z0-9._-]+`);
  if (!isValidIdentifier(m.table))
    problems.push(`${where}: table ${JSON.stringify(m.table)} is not a plain SQL name`);
  if (m.columns.length === 0) problems.push(`${where}: at least one column is required`);
  const names = new Set<string>();
  for (const c of m.columns) {
    if (!isValidIdentifier(c.name))
      problems.push(`${where}: column ${JSON.stringify(c.name)} is not a plain SQL name`);
    // As an object key it sets the prototype instead, so the schema would not check it at all.
    if (c.name === '__proto__') problems.push(`${where}: column "__proto__" is reserved, name it otherwise`);
    if (names.has(c.name)) problems.push(`${where}: column ${c.name} appears twice`);
    names.add(c.name);
  }
  if (m.mode !== 'copy' && m.key.length === 0) problems.push(`${where}: mode ${m.mode} needs a conflict key`);
  for (const k of m.key)
    if (!names.has(k)) problems.push(`${where}: key column ${k} is not among the columns`);
  return problems;
}
