package command

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/liqstream/liqstream/services/aggregator/aggregator"
	"github.com/liqstream/liqstream/services/lib/configfile"
	"github.com/liqstream/liqstream/services/lib/secret"
)

// Migrate applies pending ClickHouse migrations. It is never run implicitly
// by a service; running it twice applies nothing the second time.
func Migrate(ctx context.Context, env Env, args []string) int {
	fs := flags(env, "migrate")
	cfgPath := fs.String("config", "", "liqstream.yaml whose clickhouse section is used (deploy/config/README.md)")
	addr := fs.String("clickhouse-addr", "", "ClickHouse native address host:port (default from config, else 127.0.0.1:9000)")
	db := fs.String("database", "", "database to migrate (created when missing; default liqstream)")
	user := fs.String("username", "", "ClickHouse user")
	dry := fs.Bool("dry-run", false, "list pending migrations without applying them")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	cfg := aggregator.DefaultConfig()
	if err := decodeSection(env, *cfgPath, "clickhouse", &cfg.ClickHouse); err != nil {
		fmt.Fprintf(env.Stderr, "liqstream migrate: %v\n", err)
		return 2
	}
	set := configfile.FlagsSet(fs)
	if set["clickhouse-addr"] {
		cfg.ClickHouse.Addr = []string{*addr}
	}
	if set["database"] {
		cfg.ClickHouse.Database = *db
	}
	if set["username"] {
		cfg.ClickHouse.Username = *user
	}
	if p := env.Getenv("CLICKHOUSE_PASSWORD"); p != "" {
		cfg.ClickHouse.Password = secret.String(p)
	}
	log := logger(env.Stderr, slog.LevelInfo)
	applied, err := aggregator.Migrate(ctx, cfg.ClickHouse, log, *dry)
	if err != nil {
		fmt.Fprintf(env.Stderr, "liqstream migrate: %v\n", err)
		return 1
	}
	verb := "applied"
	if *dry {
		verb = "pending"
	}
	for _, a := range applied {
		fmt.Fprintf(env.Stdout, "%s %04d %s\n", verb, a.Version, a.Name)
	}
	fmt.Fprintf(env.Stdout, "%d migration(s) %s to database %s\n", len(applied), verb, cfg.ClickHouse.Database)
	return 0
}
