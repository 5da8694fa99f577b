package verify

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/liqstream/liqstream/services/ingest/ingest"
	"github.com/liqstream/liqstream/services/ingest/rpc"
)

// Verifier verifies one chain's range. Build it with New; Run does the work.
type Verifier struct {
	cfg Config
	t   target
	log *slog.Logger
}

// New validates cfg; it does no I/O. log may be nil.
func New(cfg Config, log *slog.Logger) (*Verifier, error) {
	t, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Verifier{cfg: cfg, t: t, log: log.With("chain", t.chain.Slug)}, nil
}

// Run reads the range from the chain and from ClickHouse and returns the
// report. An error means the verification could not be done (unreachable
// endpoint, missing schema, a range not on chain); differences are not
// errors: they are in the report.
func (v *Verifier) Run(ctx context.Context) (*Report, error) {
	start := time.Now()
	conn, err := v.openClickHouse(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()

	cl, err := rpc.New(ctx, rpc.Config{URL: v.cfg.RPCURL, ChainID: v.t.chain.ID, Chain: v.t.chain.Slug}, v.log, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: connecting to %s: %w (check --rpc-url / rpc_url)", ErrRPC, v.cfg.RPCURL, err)
	}
	defer cl.Close()
	head, err := cl.Head(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRPC, err)
	}
	safe := uint64(0)
	if head > v.t.chain.Confirmations {
		safe = head - v.t.chain.Confirmations
	}
	if fin, ok, err := cl.HeaderByTag(ctx, "finalized"); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRPC, err)
	} else if ok && fin.Number < safe {
		safe = fin.Number
	}
	from, to, err := v.resolveRange(ctx, cl, head)
	if err != nil {
		return nil, err
	}
	ends, err := cl.HeadersBatch(ctx, []uint64{from, to - 1})
	if err != nil {
		return nil, fmt.Errorf("%w: reading the range's first and last headers: %w", ErrRPC, err)
	}
	rep := &Report{Chain: v.t.chain.Slug, ChainID: v.t.chain.ID, Market: v.t.market, Pool: strings.ToLower(v.t.pool.Hex()),
		From: from, To: to, FromTime: time.Unix(int64(ends[0].Time), 0).UTC(), LastTime: time.Unix(int64(ends[1].Time), 0).UTC(),
		Head: head, Safe: safe}
	d0, d1 := rep.FromTime.Truncate(24*time.Hour), rep.LastTime.Truncate(24*time.Hour)
	for d := d0; !d.After(d1); d = d.AddDate(0, 0, 1) {
		rep.RollupDays = append(rep.RollupDays, d.Format(time.DateOnly))
	}
	v.log.Info("verify starting", "market", rep.Market, "pool", rep.Pool, "from", from, "to", to,
		"from_time", rep.FromTime, "last_time", rep.LastTime, "head", head, "safe", safe, "log_range", v.t.logRange, "rpc_url", v.cfg.RPCURL)
	if to > safe+1 {
		v.log.Warn("the range ends above the safe block: recent blocks may still reorg", "to", to, "safe", safe)
	}

	st := &scan{}
	stop := v.logProgress(ctx, st, to-from, start)
	events, undec, err := v.chainEvents(ctx, cl, from, to, st)
	stop()
	if err != nil {
		return nil, err
	}
	rep.ChainEvents, rep.Undecodable = len(events), undec

	ch := chReader{conn: conn, chainID: v.t.chain.ID, timeout: v.cfg.ClickHouse.QueryTimeout}
	// A day of margin each side: rows whose block_date disagrees with the
	// chain by a day are still matched by event_id.
	rows, err := ch.rows(ctx, d0.AddDate(0, 0, -1), d1.AddDate(0, 0, 1))
	if err != nil {
		return nil, err
	}
	conflicts, err := ch.conflicts(ctx, d0.AddDate(0, 0, -1), d1.AddDate(0, 0, 1), from, to)
	if err != nil {
		return nil, err
	}
	res := compareEvents(events, rows, conflicts, from, to, rep.Pool)
	rep.ClickHouseEvents, rep.ClickHouseRetracted = res.inCH, res.retracted
	rep.Differences = res.diffs
	if len(res.extras) > 0 {
		canonical, err := canonicalHashes(ctx, cl, res.extras, head)
		if err != nil {
			return nil, err
		}
		rep.Differences = append(rep.Differences, extraDiffs(res.extras, canonical)...)
	}
	rollup, raw, err := ch.rollups(ctx, d0, d1)
	if err != nil {
		return nil, err
	}
	rep.Differences = append(rep.Differences, rollupDiffs("daily", pick(rollup, "daily "), pick(raw, "daily "))...)
	rep.Differences = append(rep.Differences, rollupDiffs("hourly", pick(rollup, "hourly "), pick(raw, "hourly "))...)
	sortDifferences(rep.Differences)
	rep.Elapsed = time.Since(start)
	v.log.Info("verify done", "chain_events", rep.ChainEvents, "clickhouse_events", rep.ClickHouseEvents,
		"differences", len(rep.Differences), "elapsed", rep.Elapsed.Round(time.Millisecond))
	return rep, nil
}

// pick returns the entries of m whose key starts with prefix ("daily " or
// "hourly "), keys unchanged so reports name the bucket in full.
func pick(m map[string]aggregate, prefix string) map[string]aggregate {
	out := map[string]aggregate{}
	for k, a := range m {
		if strings.HasPrefix(k, prefix) {
			out[k] = a
		}
	}
	return out
}

// resolveRange resolves From and To to [from, to) like ingest and checks the
// range is non-empty and complete on chain.
func (v *Verifier) resolveRange(ctx context.Context, cl *rpc.Client, head uint64) (uint64, uint64, error) {
	from, err := ingest.ResolveBound(ctx, cl, v.cfg.From, head)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: resolving from %q: %w", ErrRPC, v.cfg.From, err)
	}
	to, err := ingest.ResolveBound(ctx, cl, v.cfg.To, head)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: resolving to %q: %w", ErrRPC, v.cfg.To, err)
	}
	_, _, toIsBlock, _ := ingest.ParseBound(v.cfg.To)
	switch {
	case from > head:
		return 0, 0, fmt.Errorf("%w: from %q resolves to block %d, past the chain head %d", ErrRange, v.cfg.From, from, head)
	case from >= to:
		return 0, 0, fmt.Errorf("%w: [from %q, to %q) resolves to blocks [%d, %d), which holds no block; widen the range",
			ErrRange, v.cfg.From, v.cfg.To, from, to)
	case to > head+1:
		return 0, 0, fmt.Errorf("%w: to %q ends at block %d, past the chain head %d; verify up to a block the chain has",
			ErrRange, v.cfg.To, to, head)
	case to == head+1 && !toIsBlock:
		return 0, 0, fmt.Errorf("%w: to %q is after the chain head %d: the range is not complete on chain yet; pick an earlier end",
			ErrRange, v.cfg.To, head)
	}
	return from, to, nil
}

// canonicalHashes returns the canonical block hash of each extra row's block
// at or below head.
func canonicalHashes(ctx context.Context, cl *rpc.Client, extras []row, head uint64) (map[uint64]string, error) {
	var nums []uint64
	seen := map[uint64]bool{}
	for _, r := range extras {
		if r.BlockNumber <= head && !seen[r.BlockNumber] {
			seen[r.BlockNumber] = true
			nums = append(nums, r.BlockNumber)
		}
	}
	out := map[uint64]string{}
	if len(nums) == 0 {
		return out, nil
	}
	hs, err := cl.HeadersBatch(ctx, nums)
	if err != nil {
		return nil, fmt.Errorf("%w: reading the headers of blocks holding extra events: %w", ErrRPC, err)
	}
	for _, h := range hs {
		out[h.Number] = strings.ToLower(h.Hash.Hex())
	}
	return out, nil
}

// openClickHouse connects and checks the liqstream tables exist.
func (v *Verifier) openClickHouse(ctx context.Context) (driver.Conn, error) {
	c := v.cfg.ClickHouse
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        c.Addr,
		Auth:        clickhouse.Auth{Database: c.Database, Username: c.Username, Password: c.Password.Reveal()},
		DialTimeout: c.DialTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: opening a connection to %s: %w (check --clickhouse-addr)", ErrClickHouse, strings.Join(c.Addr, ","), err)
	}
	pctx, cancel := context.WithTimeout(ctx, c.DialTimeout+c.QueryTimeout)
	defer cancel()
	var n uint64
	err = conn.QueryRow(pctx, `SELECT count() FROM system.tables WHERE database = @db
		AND name IN ('liquidations', 'liquidations_daily', 'liquidations_hourly')`, clickhouse.Named("db", c.Database)).Scan(&n)
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("%w: cannot query ClickHouse at %s: %w (check --clickhouse-addr, --database and that the server runs)",
			ErrClickHouse, strings.Join(c.Addr, ","), err)
	}
	if n < 3 {
		_ = conn.Close()
		return nil, fmt.Errorf("%w: database %s lacks the liqstream tables (found %d of liquidations, liquidations_daily, liquidations_hourly); run `liqstream migrate --database %s`",
			ErrClickHouse, c.Database, n, c.Database)
	}
	return conn, nil
}

func (v *Verifier) logProgress(ctx context.Context, st *scan, total uint64, start time.Time) func() {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(v.cfg.ProgressInterval)
		defer t.Stop()
		line := func() {
			b := st.blocksDone.Load()
			v.log.Info("verify progress", "blocks_done", b, "blocks", total,
				"percent", fmt.Sprintf("%.1f", 100*float64(b)/float64(max(total, 1))),
				"events", st.events.Load(), "elapsed", time.Since(start).Round(time.Millisecond))
		}
		// The last line, when the chain scan ends, says where it stopped.
		defer line()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				line()
			}
		}
	}()
	return func() { cancel(); <-done }
}
