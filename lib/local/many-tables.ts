// A large schema for the tests and benchmarks that need one: `plain` tables with a primary key,
// and a partitioned table `events` with `partitions` partitions. Created in transactions of a
// few hundred tables: one transaction for all would run out of lock slots.
/** Anything that runs a statement: a pg.Client, a pool, an SqlExecutor session. */
interface Queryable {
  query(sql: string): Promise<unknown>;
}

export async function createManyTables(client: Queryable, plain: number, partitions: number): Promise<void> {
  for (let from = 1; from <= plain; from += 500) {
    await client.query(`DO $$ BEGIN FOR i IN ${from}..${Math.min(plain, from + 499)} LOOP
      EXECUTE format('CREATE TABLE %I (id bigint PRIMARY KEY, name text NOT NULL, created_at timestamptz DEFAULT now())', 'table_' || i);
    END LOOP; END $$`);
  }
  await client.query("CREATE TABLE events (id bigint, at date NOT NULL, payload jsonb) PARTITION BY RANGE (at)");
  for (let from = 1; from <= partitions; from += 250) {
    await client.query(`DO $$ BEGIN FOR i IN ${from}..${Math.min(partitions, from + 249)} LOOP
      EXECUTE format('CREATE TABLE %I PARTITION OF events FOR VALUES FROM (%L) TO (%L)', 'events_' || i,
        date '2000-01-01' + i, date '2000-01-01' + i + 1);
    END LOOP; END $$`);
  }
}
