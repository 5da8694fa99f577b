package store

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/liqstream/liqstream/schemas"
)

// bucketsPerStatement bounds the size of one rollup recomputation statement.
const bucketsPerStatement = 400

// recomputeStep is one statement of a rollup recomputation: a query of
// schemas/queries run with the bucket parameters of rollup_daily.sql.
type recomputeStep struct {
	// step names the step in WriteError.
	step string
	sql  string
	// after: the step must run after the one before it (a rollup's clear
	// half after its data half); other steps run concurrently.
	after bool
}

// rollupPlan lists the statements that bring the rollups of a set of (chain,
// UTC day) buckets up to date after a write, in the order they run.
type rollupPlan struct {
	// liquidations recomputes every rollup: after liquidation rows.
	liquidations []recomputeStep
	// badDebt recomputes only the rollups that read bad_debt (daily and
	// hourly): after bad-debt rows.
	badDebt []recomputeStep
}

// loadRollupPlan reads the recomputation SQL from the schemas module.
//
// Order matters for readers. Every rollup whose key is finer than its bucket
// (hour, pair, liquidator) is written in two halves: the data rows at
// version+1 first, then empty rows at version for the keys that already had a
// row in the bucket (the "clear" half). ReplacingMergeTree keeps the highest
// version per key, so a key that still has events keeps its data row and a key
// whose events all moved away reads as zero, and no reader sees a regression
// to zero while the statements run. The daily rollup's key is the bucket
// itself, so it needs no clear half.
func loadRollupPlan() (rollupPlan, error) {
	var p rollupPlan
	step := func(name, what string) (recomputeStep, error) {
		sql, err := schemas.Query(name)
		return recomputeStep{step: what, sql: sql}, err
	}
	for _, s := range []struct {
		name, what string
		badDebt    bool
	}{
		{"rollup_daily", "recompute daily rollup", true},
		{"rollup_hourly", "recompute hourly rollup", true},
		{"rollup_hourly_clear", "clear emptied hours of the hourly rollup", true},
		{"rollup_pair_daily", "recompute pair rollup", false},
		{"rollup_pair_daily_clear", "clear emptied pairs of the pair rollup", false},
		{"rollup_liquidator_daily", "recompute liquidator rollup", false},
		{"rollup_liquidator_daily_clear", "clear emptied liquidators of the liquidator rollup", false},
	} {
		st, err := step(s.name, s.what)
		if err != nil {
			return rollupPlan{}, err
		}
		st.after = strings.HasSuffix(s.name, "_clear")
		p.liquidations = append(p.liquidations, st)
		if s.badDebt {
			p.badDebt = append(p.badDebt, st)
		}
	}
	return p, nil
}

// Recompute rebuilds every rollup (daily, hourly, pair, liquidator) of every
// chain in chains (chain id to the slug stored in the rollups) for the UTC
// days from the day of from to the day before to. Use it after changing raw
// rows by hand; WriteBatch and WriteBadDebt need no help.
func (s *Store) Recompute(ctx context.Context, chains map[uint64]string, from, to time.Time) error {
	var bs []bucket
	for d := from.UTC().Truncate(24 * time.Hour); d.Before(to); d = d.Add(24 * time.Hour) {
		for id, slug := range chains {
			bs = append(bs, bucket{chainID: id, chain: slug, day: d})
		}
	}
	sortBuckets(bs)
	return s.recomputeWith(ctx, s.plan.liquidations, bs, 0)
}

type bucket struct {
	chainID uint64
	chain   string
	day     time.Time
}

// sortBuckets orders buckets by chain, then day.
func sortBuckets(bs []bucket) {
	sort.Slice(bs, func(i, j int) bool {
		if bs[i].chainID != bs[j].chainID {
			return bs[i].chainID < bs[j].chainID
		}
		return bs[i].day.Before(bs[j].day)
	})
}

// nextVersion returns an even rollup version larger than every earlier one
// of this process, from the clock: two-half recomputations use version and
// version+1.
func (s *Store) nextVersion() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := uint64(time.Now().UnixNano()) * 2
	if v <= s.lastVersion {
		v = s.lastVersion + 2
	}
	s.lastVersion = v
	return v
}

// recompute brings every rollup of buckets up to date after liquidation rows
// were written.
func (s *Store) recompute(ctx context.Context, buckets []bucket, rows int) error {
	return s.recomputeWith(ctx, s.plan.liquidations, buckets, rows)
}

// recomputeWith runs steps over buckets, at most bucketsPerStatement buckets
// per statement, each chunk with a fresh version. Its cost is proportional to
// the raw rows of the touched buckets, never to the table. The rollups are
// independent of each other, so their statements run concurrently (each
// reads the raw table once; ClickHouse runs them on separate cores); within
// a rollup the clear half follows the data half.
func (s *Store) recomputeWith(ctx context.Context, steps []recomputeStep, buckets []bucket, rows int) error {
	var groups [][]recomputeStep
	for _, st := range steps {
		if st.after && len(groups) > 0 {
			groups[len(groups)-1] = append(groups[len(groups)-1], st)
		} else {
			groups = append(groups, []recomputeStep{st})
		}
	}
	for len(buckets) > 0 {
		n := min(len(buckets), bucketsPerStatement)
		chunk := buckets[:n]
		buckets = buckets[n:]
		args := bucketArgs(chunk, s.nextVersion())
		errs := make([]error, len(groups))
		var wg sync.WaitGroup
		for i, g := range groups {
			wg.Go(func() {
				for _, st := range g {
					if errs[i] = s.retry(ctx, st.step, rows, func(ctx context.Context) error {
						return s.conn.Exec(ctx, st.sql, args...)
					}); errs[i] != nil {
						return
					}
				}
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
	}
	return nil
}

func bucketArgs(bs []bucket, version uint64) []any {
	ids := make([]uint64, len(bs))
	days := make([]string, len(bs))
	idSet := map[uint64]bool{}
	daySet := map[string]bool{}
	var idList, dayList []any
	for i, b := range bs {
		ids[i] = b.chainID
		days[i] = b.day.Format(time.DateOnly)
		if !idSet[b.chainID] {
			idSet[b.chainID] = true
			idList = append(idList, b.chainID)
		}
		if !daySet[days[i]] {
			daySet[days[i]] = true
			dayList = append(dayList, days[i])
		}
	}
	return []any{
		clickhouse.Named("chain_ids", ids),
		clickhouse.Named("days", days),
		clickhouse.Named("chain_set", clickhouse.GroupSet{Value: idList}),
		clickhouse.Named("day_set", clickhouse.GroupSet{Value: dayList}),
		clickhouse.Named("version", version),
	}
}
