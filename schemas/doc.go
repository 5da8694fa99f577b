// Package schemas holds liqstream's ClickHouse schema and the SQL every
// service and analyst shares, embedded into Go binaries.
//
// migrations/NNNN_name.sql are versioned DDL files applied in order by the
// aggregator's migrate package (never implicitly by a running service). A
// file may hold several statements; a statement ends with a semicolon at the
// end of a line. Table names in migrations are written {{database}}.table so
// the migrator can place them in the configured database.
//
// queries/name.sql are the queries the query and store packages run, with
// clickhouse-go named parameters (@from, @to, ...) bound on the client, so
// they run on ClickHouse 18.16 as well as on current releases. They name
// tables without a database: run them on a connection whose default database
// is the liqstream one.
//
// README.md documents every table and column and the guarantees of the
// design (deduplication, revisions, retractions, replays).
package schemas
