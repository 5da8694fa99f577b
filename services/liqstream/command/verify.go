package command

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/liqstream/liqstream/services/lib/secret"
	"github.com/liqstream/liqstream/services/liqstream/verify"
)

// Verify re-counts the liquidations of a block range over RPC and diffs them
// against ClickHouse. It exits 0 when they are equal (one summary line), 1
// when they differ (every difference, then the summary) or verification
// failed, 2 on bad usage.
func Verify(ctx context.Context, env Env, args []string) int {
	def := verify.DefaultConfig()
	fs := flags(env, "verify")
	chain := fs.String("chain", "", "chain slug or id, e.g. polygon or 137 (required)")
	from := fs.String("from", "", "first block of the range: block number, UTC date 2026-01-01 or RFC3339 time (required)")
	to := fs.String("to", "", "end of the range, exclusive, same forms (required)")
	rpcURL := fs.String("rpc-url", "", "JSON-RPC endpoint (default $LIQSTREAM_RPC_URL; printed redacted)")
	addr := fs.String("clickhouse-addr", envOr(env, "CLICKHOUSE_ADDR", def.ClickHouse.Addr[0]), "ClickHouse native address (default $CLICKHOUSE_ADDR)")
	db := fs.String("database", def.ClickHouse.Database, "ClickHouse database holding the liqstream tables")
	user := fs.String("username", def.ClickHouse.Username, "ClickHouse user (password from $CLICKHOUSE_PASSWORD)")
	market := fs.String("market", "", "market name from the registry, e.g. AaveV3Polygon (default: the chain's primary Aave V3 market)")
	pool := fs.String("pool", "", "pool address overriding the market's")
	logRange := fs.Uint64("log-range", 0, "blocks per eth_getLogs request (default: the chain's limit from the registry)")
	concurrency := fs.Int("concurrency", def.Concurrency, "eth_getLogs requests in flight")
	progress := fs.Duration("progress", 5*time.Second, "how often progress is written to stderr")
	asJSON := fs.Bool("json", false, "print the report as JSON on stdout")
	quiet := fs.Bool("q", false, "no progress or log lines on stderr, only errors")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	cfg := def
	cfg.Chain, cfg.From, cfg.To, cfg.Market, cfg.Pool = *chain, *from, *to, *market, *pool
	cfg.RPCURL = secret.URL(*rpcURL)
	if cfg.RPCURL == "" {
		cfg.RPCURL = secret.URL(env.Getenv("LIQSTREAM_RPC_URL"))
	}
	cfg.LogRange, cfg.Concurrency, cfg.ProgressInterval = *logRange, *concurrency, *progress
	cfg.ClickHouse.Addr = []string{*addr}
	cfg.ClickHouse.Database, cfg.ClickHouse.Username = *db, *user
	cfg.ClickHouse.Password = secret.String(env.Getenv("CLICKHOUSE_PASSWORD"))

	level := slog.LevelInfo
	if *quiet {
		level = slog.LevelError
	}
	v, err := verify.New(cfg, logger(env.Stderr, level))
	if err != nil {
		fmt.Fprintf(env.Stderr, "liqstream verify: %s\n", flagNames(err))
		return 2
	}
	rep, err := v.Run(ctx)
	if err != nil {
		fmt.Fprintf(env.Stderr, "liqstream verify: %v\n", err)
		return 1
	}
	if *asJSON {
		err = rep.WriteJSON(env.Stdout)
	} else {
		err = rep.WriteText(env.Stdout)
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "liqstream verify: writing the report: %v\n", err)
		return 1
	}
	if !rep.OK() {
		return 1
	}
	return 0
}

// flagNames prefixes a config error with the flag that sets the key.
func flagNames(err error) string {
	if !errors.Is(err, verify.ErrConfig) {
		return err.Error()
	}
	return err.Error() + " (flags: --chain, --from, --to, --rpc-url or $LIQSTREAM_RPC_URL, --market, --pool, --clickhouse-addr, --database)"
}
