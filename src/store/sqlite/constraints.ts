import Database from 'better-sqlite3';

/** The kind of constraint a SQLite error reports as broken, if it is one the store maps. */
export type ConstraintKind = 'unique' | 'foreign-key';

/**
 * Classifies a SQLite constraint error. Other errors, including CHECK, NOT NULL and
 * datatype failures that mean a bug in the caller, return undefined and are rethrown as is.
 */
export function constraintKind(error: unknown): ConstraintKind | undefined {
  if (!(error instanceof Database.SqliteError)) return undefined;
  if (error.code === 'SQLITE_CONSTRAINT_UNIQUE') return 'unique';
  if (error.code === 'SQLITE_CONSTRAINT_PRIMARYKEY') return 'unique';
  if (error.code === 'SQLITE_CONSTRAINT_FOREIGNKEY') return 'foreign-key';
  return undefined;
}

/**
 * Returns whether a unique-constraint error names the column, as `table.column`. SQLite writes the
 * columns of the broken constraint into the message: "UNIQUE constraint failed: t.a, t.b".
 */
export function uniqueErrorNames(error: unknown, column: string): boolean {
  return error instanceof Error && error.message.includes(column);
}
