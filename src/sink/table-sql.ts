// SQL text per mapped table, built once at start from validated, quoted identifiers.
// Rows reach these statements only through COPY data, never through the SQL text.
import { quoteIdent } from '../core/sql-identifier.js';
import type { TopicMapping } from '../core/topic-mapping.js';

export interface TableSql {
  readonly mapping: TopicMapping;
  /** Creates this connection's staging table (temporary, emptied at every commit). */
  readonly createStaging: string;
  /** COPY into the staging table (upsert/insert) or straight into the target (copy). */
  readonly copy: string;
  /** Moves staged rows into the target; null in copy mode. */
  readonly merge: string | null;
  readonly truncateStaging: string | null;
  /** Tombstone deletes (TOMBSTONE_POLICY=delete): a key-only staging table; empty in copy mode. */
  readonly createDeleteStaging: string;
  readonly copyDelete: string | null;
  readonly delete: string | null;
  readonly truncateDeleteStaging: string | null;
}

export function buildTableSql(schema: string, m: TopicMapping): TableSql {
  const target = `${quoteIdent(schema)}.${quoteIdent(m.table)}`;
  const staging = quoteIdent(`stg_${schema}_${m.table}`.slice(0, 63));
  const cols = m.columns.map((c) => quoteIdent(c.name)).join(', ');
  if (m.mode === 'copy') {
    return {
      mapping: m,
      createStaging: '',
      copy: `COPY ${target} (${cols}) FROM STDIN`,
      merge: null,
      truncateStaging: null,
      createDeleteStaging: '',
      copyDelete: null,
      delete: null,
      truncateDeleteStaging: null,
    };
  }
  const key = m.key.map(quoteIdent).join(', ');
  const delStaging = quoteIdent(`stgdel_${schema}_${m.table}`.slice(0, 63));
  const nonKey = m.columns.filter((c) => !m.key.includes(c.name));
  const onConflict =
    m.mode === 'insert' || nonKey.length === 0
      ? `ON CONFLICT (${key}) DO NOTHING`
      : `ON CONFLICT (${key}) DO UPDATE SET ${nonKey
          .map((c) => `${quoteIdent(c.name)} = EXCLUDED.${quoteIdent(c.name)}`)
          .join(', ')}`;
  return {
    mapping: m,
    // LIKE copies column types and NOT NULLs, so bad values fail at COPY time inside our
    // transaction with the same SQLSTATE the target would raise.
    createStaging: `CREATE TEMP TABLE IF NOT EXISTS ${staging} (LIKE ${target} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS`,
    copy: `COPY ${staging} (${cols}) FROM STDIN`,
    merge: `INSERT INTO ${target} (${cols}) SELECT ${cols} FROM ${staging} ${onConflict}`,
    truncateStaging: `TRUNCATE ${staging}`,
    createDeleteStaging: `CREATE TEMP TABLE IF NOT EXISTS ${delStaging} ON COMMIT DELETE ROWS AS SELECT ${key} FROM ${target} WITH NO DATA`,
    copyDelete: `COPY ${delStaging} (${key}) FROM STDIN`,
    delete: `DELETE FROM ${target} t USING ${delStaging} d WHERE ${m.key.map((k) => `t.${quoteIdent(k)} = d.${quoteIdent(k)}`).join(' AND ')}`,
    truncateDeleteStaging: `TRUNCATE ${delStaging}`,
  };
}
