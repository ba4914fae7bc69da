import { sql, type AnyColumn, type SQL } from "drizzle-orm";

/**
 * `column IN (values)` bound as ONE parameter (a JSON array read with json_each): D1 allows
 * at most 100 bound parameters per statement, and lists here can be that long by themselves.
 */
export function inList(column: AnyColumn, values: readonly string[]): SQL {
  return sql`${column} IN (SELECT value FROM json_each(${JSON.stringify(values)}))`;
}
