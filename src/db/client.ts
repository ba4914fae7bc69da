import { drizzle } from "drizzle-orm/d1";
import * as schema from "./schema";

export type Db = ReturnType<typeof build>;

function build(d1: D1Database) {
  return drizzle(d1, { schema });
}

/** Building drizzle's relational config costs more than most queries: one instance per binding. */
const instances = new WeakMap<D1Database, ReturnType<typeof build>>();

export function database(d1: D1Database): ReturnType<typeof build> {
  let db = instances.get(d1);
  if (!db) {
    db = build(d1);
    instances.set(d1, db);
  }
  return db;
}
