// Package migrate applies the versioned ClickHouse migrations embedded in the
// schemas module to a database. It sits beside the data path, not on it: an
// operator runs it (the aggregator binary's "migrate" mode, or `make
// migrate`) before starting services; no service runs DDL implicitly.
//
// Contract: Run creates the database when missing and a schema_migrations
// table in it, then applies every migration whose version is not recorded
// there, in version order, recording each after all its statements
// succeeded. Every statement in schemas/migrations is idempotent (IF NOT
// EXISTS), so a run interrupted inside a migration is completed by the next
// run. Running it again applies nothing. A recorded migration whose embedded
// text changed is an error (ErrChecksumMismatch): write a new migration
// instead of editing an applied one. Run one migrator at a time.
package migrate
