/** The kind of constraint a PostgreSQL error reports as broken, if it is one the store maps. */
export type ConstraintKind = 'unique' | 'foreign-key';

interface DatabaseErrorFields {
  code?: unknown;
  constraint?: unknown;
}

/**
 * Classifies a constraint error by its SQLSTATE (23505 unique, 23503 foreign key). Other
 * errors, including CHECK and NOT NULL failures that mean a bug in the caller, return
 * undefined and are rethrown as they are.
 */
export function constraintKind(error: unknown): ConstraintKind | undefined {
  const code = (error as DatabaseErrorFields | null)?.code;
  if (code === '23505') return 'unique';
  if (code === '23503') return 'foreign-key';
  return undefined;
}

/** The name of the constraint or unique index that a constraint error names. */
export function constraintName(error: unknown): string | undefined {
  const name = (error as DatabaseErrorFields | null)?.constraint;
  return typeof name === 'string' ? name : undefined;
}
