package migrate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/liqstream/liqstream/schemas"
)

// Errors callers can test for with errors.Is.
var (
	// ErrBadDatabase means the database name is not a plain identifier.
	ErrBadDatabase = errors.New("invalid database name")
	// ErrChecksumMismatch means an applied migration's embedded SQL changed.
	ErrChecksumMismatch = errors.New("applied migration changed")
)

// Applied is one migration applied by Run, or pending in Pending.
type Applied struct {
	Version  int
	Name     string
	Checksum string
	// Statements is the number of statements the migration holds.
	Statements int
	// Took is how long applying it took (zero from Pending).
	Took time.Duration
}

// MigrationError says which migration and statement failed.
type MigrationError struct {
	Version   int
	Name      string
	Statement int // 1-based index within the migration
	Err       error
}

func (e *MigrationError) Error() string {
	return fmt.Sprintf("applying migration %s statement %d: %v (fix the statement or the server, then run migrate again: applied statements are idempotent)",
		e.Name, e.Statement, e.Err)
}

func (e *MigrationError) Unwrap() error { return e.Err }

var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Checksum is the hex SHA-256 of a migration's SQL.
func Checksum(m schemas.Migration) string {
	sum := sha256.Sum256([]byte(m.SQL))
	return hex.EncodeToString(sum[:])
}

// Pending returns the migrations Run would apply, without changing anything
// except creating the database and the schema_migrations table when missing.
func Pending(ctx context.Context, conn driver.Conn, database string) ([]Applied, error) {
	if err := prepare(ctx, conn, database); err != nil {
		return nil, err
	}
	todo, err := pending(ctx, conn, database, schemas.Migrations())
	if err != nil {
		return nil, err
	}
	out := make([]Applied, 0, len(todo))
	for _, m := range todo {
		out = append(out, Applied{Version: m.Version, Name: m.Name, Checksum: Checksum(m), Statements: len(m.Statements(database))})
	}
	return out, nil
}

// Run applies the pending migrations to database in order and returns those
// it applied (none when the schema is current).
func Run(ctx context.Context, conn driver.Conn, database string, log *slog.Logger) ([]Applied, error) {
	return run(ctx, conn, database, log, schemas.Migrations())
}

func run(ctx context.Context, conn driver.Conn, database string, log *slog.Logger, all []schemas.Migration) ([]Applied, error) {
	if err := prepare(ctx, conn, database); err != nil {
		return nil, err
	}
	todo, err := pending(ctx, conn, database, all)
	if err != nil {
		return nil, err
	}
	if len(todo) == 0 {
		log.Info("schema is current", "database", database, "migrations", len(all))
		return nil, nil
	}
	var done []Applied
	for _, m := range todo {
		start := time.Now()
		stmts := m.Statements(database)
		for i, s := range stmts {
			if err := conn.Exec(ctx, s); err != nil {
				return done, &MigrationError{Version: m.Version, Name: m.Name, Statement: i + 1, Err: err}
			}
		}
		sum := Checksum(m)
		// INSERT ... SELECT rather than VALUES: through clickhouse-go's Exec,
		// ClickHouse 18.16 waits for a data block after an inline VALUES
		// insert that never comes.
		if err := conn.Exec(ctx, "INSERT INTO "+database+".schema_migrations (version, name, checksum, applied_at) SELECT toUInt32(?), ?, ?, now()",
			m.Version, m.Name, sum); err != nil {
			return done, &MigrationError{Version: m.Version, Name: m.Name, Statement: len(stmts) + 1, Err: fmt.Errorf("recording it in schema_migrations: %w", err)}
		}
		a := Applied{Version: m.Version, Name: m.Name, Checksum: sum, Statements: len(stmts), Took: time.Since(start)}
		log.Info("applied migration", "database", database, "version", a.Version, "name", a.Name, "statements", a.Statements, "took", a.Took)
		done = append(done, a)
	}
	return done, nil
}

func prepare(ctx context.Context, conn driver.Conn, database string) error {
	if !identRe.MatchString(database) {
		return fmt.Errorf("%w %q: use letters, digits and underscores (clickhouse.database)", ErrBadDatabase, database)
	}
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+database); err != nil {
		return fmt.Errorf("creating database %s: %w (check clickhouse.addr, clickhouse.username and clickhouse.password, and that the user may create databases)", database, err)
	}
	// A plain MergeTree: rows are only ever appended, one per migration.
	if err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+database+`.schema_migrations
(
    version    UInt32,
    name       String,
    checksum   String,
    applied_at DateTime('UTC')
)
ENGINE = MergeTree
ORDER BY version`); err != nil {
		return fmt.Errorf("creating %s.schema_migrations: %w", database, err)
	}
	return nil
}

// pending returns the migrations of all not recorded in schema_migrations,
// checking that recorded ones are unchanged.
func pending(ctx context.Context, conn driver.Conn, database string, all []schemas.Migration) ([]schemas.Migration, error) {
	rows, err := conn.Query(ctx, "SELECT version, any(checksum) FROM "+database+".schema_migrations GROUP BY version")
	if err != nil {
		return nil, fmt.Errorf("reading %s.schema_migrations: %w", database, err)
	}
	defer rows.Close()
	applied := map[int]string{}
	for rows.Next() {
		var (
			v   uint32
			sum string
		)
		if err := rows.Scan(&v, &sum); err != nil {
			return nil, fmt.Errorf("reading %s.schema_migrations: %w", database, err)
		}
		applied[int(v)] = sum
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading %s.schema_migrations: %w", database, err)
	}
	var todo []schemas.Migration
	for _, m := range all {
		sum, ok := applied[m.Version]
		if !ok {
			todo = append(todo, m)
			continue
		}
		if sum != Checksum(m) {
			return nil, fmt.Errorf("%w: %s was applied with checksum %s but is now %s (add a new migration instead of editing an applied one)",
				ErrChecksumMismatch, m.Name, sum, Checksum(m))
		}
	}
	return todo, nil
}
