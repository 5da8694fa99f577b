package command

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/liqstream/liqstream/services/lib/secret"
	"github.com/liqstream/liqstream/services/liqstream/report"
)

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(s string) error { *m = append(*m, s); return nil }

// Report prints the liquidation report of a window. Exit codes: 0 the
// report was written (and every --compare figure is within tolerance), 1 an
// error (ClickHouse unreachable, no liquidation in the window, a failed
// query), 2 bad usage (dates, from ≥ to, unknown chain or protocol, bad
// --compare file), 3 the report was written but a --compare figure is out
// of tolerance.
func Report(ctx context.Context, env Env, args []string) int {
	def := report.DefaultConfig()
	fs := flags(env, "report")
	from := fs.String("from", "", "start of the window, inclusive: UTC date 2026-01-01 or RFC3339 time (required)")
	to := fs.String("to", "", "end of the window, exclusive, same forms (required)")
	var chainList multi
	fs.Var(&chainList, "chain", "chain slug or id; repeat or comma-separate (default: every chain with events)")
	protocol := fs.String("protocol", "", "keep one protocol, e.g. aave-v3 (exact only where a chain holds no other protocol)")
	format := fs.String("format", "table", "output: table, csv, json or markdown")
	chart := fs.String("chart", "", "also draw the daily collateral USD per chain, stacked, into this PNG file")
	compare := fs.String("compare", "", "JSON file of published figures to set beside the measured ones (exit 3 when one is out of tolerance)")
	waveK := fs.Float64("wave-k", def.Waves.K, "a wave day exceeds this multiple of the trailing median")
	waveDays := fs.Int("wave-days", def.Waves.TrailingDays, "days in the trailing median of wave detection")
	top := fs.Int("top", def.Top, "length of the asset and liquidator rankings")
	addr := fs.String("clickhouse-addr", envOr(env, "CLICKHOUSE_ADDR", "127.0.0.1:9000"), "ClickHouse native address (default $CLICKHOUSE_ADDR)")
	db := fs.String("database", "liqstream", "ClickHouse database holding the liqstream tables")
	user := fs.String("username", "default", "ClickHouse user (password from $CLICKHOUSE_PASSWORD)")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	fail := func(code int, err error) int {
		fmt.Fprintf(env.Stderr, "liqstream report: %v\n", err)
		return code
	}
	cfg := def
	var err error
	if *from == "" || *to == "" {
		return fail(2, errors.New("--from and --to are required, e.g. --from 2026-01-01 --to 2026-03-01"))
	}
	if cfg.From, err = report.ParseTime(*from); err != nil {
		return fail(2, fmt.Errorf("--from: %w", err))
	}
	if cfg.To, err = report.ParseTime(*to); err != nil {
		return fail(2, fmt.Errorf("--to: %w", err))
	}
	if !cfg.To.After(cfg.From) {
		return fail(2, fmt.Errorf("--to %s must be after --from %s (the window is [from, to))", *to, *from))
	}
	cfg.Chains, cfg.Protocol, cfg.Top = chainList, *protocol, *top
	cfg.Waves.K, cfg.Waves.TrailingDays = *waveK, *waveDays
	f, err := report.ParseFormat(*format)
	if err != nil {
		return fail(2, fmt.Errorf("--format: %w", err))
	}
	if err := cfg.Validate(); err != nil {
		return fail(2, err)
	}
	var figs *report.Figures
	if *compare != "" {
		if figs, err = report.LoadFigures(*compare); err != nil {
			return fail(2, err)
		}
	}
	conn, err := report.Connect(ctx, report.ClickHouseConfig{Addr: *addr, Database: *db, Username: *user,
		Password: secret.String(env.Getenv("CLICKHOUSE_PASSWORD")), Timeout: 5 * time.Second})
	if err != nil {
		return fail(1, err)
	}
	defer conn.Close()
	rep, err := report.Build(ctx, conn, cfg)
	if err != nil {
		if errors.Is(err, report.ErrConfig) {
			return fail(2, err)
		}
		return fail(1, err)
	}
	within := true
	if figs != nil {
		if within, err = rep.Compare(ctx, conn, figs); err != nil {
			if errors.Is(err, report.ErrConfig) {
				return fail(2, err)
			}
			return fail(1, err)
		}
	}
	if err := rep.Write(env.Stdout, f); err != nil {
		return fail(1, fmt.Errorf("writing the report: %w", err))
	}
	if *chart != "" {
		if err := rep.Chart(*chart); err != nil {
			return fail(1, err)
		}
	}
	if !within {
		fmt.Fprintln(env.Stderr, "liqstream report: a --compare figure is out of tolerance (exit 3)")
		return 3
	}
	return 0
}
