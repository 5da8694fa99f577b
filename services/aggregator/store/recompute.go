package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/liqstream/liqstream/schemas"
)

// bucketsPerStatement bounds the size of one rollup recomputation statement.
const bucketsPerStatement = 400

// stagePlaceholder is written in place of the staging table's name in
// schemas/queries/rollup_stage.sql and in the rollups' data halves.
const stagePlaceholder = "{{stage}}"

// stagePrefix starts the name of every staging table; the rest is the
// recomputation's version and a random suffix (stageName).
const stagePrefix = "rollup_stage_"

// recomputeStep is one statement of a rollup recomputation: a query of
// schemas/queries run with the bucket parameters of rollup_stage.sql.
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
	// stage creates the staging table from one read of the deduplicated raw
	// tables (rollup_stage.sql); every data half reads it.
	stage string
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
	var (
		p   rollupPlan
		err error
	)
	if p.stage, err = schemas.Query("rollup_stage"); err != nil {
		return rollupPlan{}, err
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
		sql, err := schemas.Query(s.name)
		if err != nil {
			return rollupPlan{}, err
		}
		st := recomputeStep{step: s.what, sql: sql, after: strings.HasSuffix(s.name, "_clear")}
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
// per chunk, each chunk with a fresh version. Its cost is proportional to the
// raw rows of the touched buckets, never to the table.
//
// A chunk first stages the deduplicated rows of its buckets in a table of its
// own (one read of liquidations FINAL and bad_debt FINAL), then runs the
// rollups' statements against it and drops it. The rollups are independent
// of each other, so their statements run concurrently (ClickHouse runs them
// on separate cores); within a rollup the clear half follows the data half.
// Staging is retried as a whole (drop, then create and fill in one
// statement), so a fill cut short by a failure never leaves rows that a
// retry would stage twice.
func (s *Store) recomputeWith(ctx context.Context, steps []recomputeStep, buckets []bucket, rows int) error {
	s.dropOrphanStages.Do(func() { s.dropStaleStages(ctx) })
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
		version := s.nextVersion()
		args := bucketArgs(chunk, version)
		stage := s.stageName(version)
		err := s.recomputeChunk(ctx, groups, stage, args, rows)
		s.dropStage(ctx, stage)
		if err != nil {
			return err
		}
	}
	return nil
}

// recomputeChunk stages one chunk's rows in stage and runs groups against it.
func (s *Store) recomputeChunk(ctx context.Context, groups [][]recomputeStep, stage string, args []any, rows int) error {
	create := strings.ReplaceAll(s.plan.stage, stagePlaceholder, stage)
	if err := s.retry(ctx, "stage the touched buckets' rows for the rollups", rows, func(ctx context.Context) error {
		if err := s.conn.Exec(ctx, "DROP TABLE IF EXISTS "+stage); err != nil {
			return err
		}
		return s.conn.Exec(ctx, create, args...)
	}); err != nil {
		return err
	}
	errs := make([]error, len(groups))
	var wg sync.WaitGroup
	for i, g := range groups {
		wg.Go(func() {
			for _, st := range g {
				sql := strings.ReplaceAll(st.sql, stagePlaceholder, stage)
				if errs[i] = s.retry(ctx, st.step, rows, func(ctx context.Context) error {
					return s.conn.Exec(ctx, sql, args...)
				}); errs[i] != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// stageName returns a staging table name unique to one recomputation: its
// version (the writer's clock, see nextVersion) and a random suffix, so that
// several aggregators writing one database never share one.
func stageName(version uint64) string {
	return fmt.Sprintf("%s%d_%08x", stagePrefix, version, rand.Uint32())
}

// stageAge returns how long ago the staging table name was created, from
// the version in it; ok is false for a name stageName did not make.
func stageAge(name string, now time.Time) (age time.Duration, ok bool) {
	rest, found := strings.CutPrefix(name, stagePrefix)
	if !found {
		return 0, false
	}
	num, suffix, found := strings.Cut(rest, "_")
	if !found || len(suffix) != 8 {
		return 0, false
	}
	v, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return 0, false
	}
	return now.Sub(time.Unix(0, int64(v/2))), true
}

// dropStage drops a staging table, also when ctx is done (a shutdown): a
// table left behind costs only disk until dropStaleStages, in an aggregator
// started once it is stale, removes it.
func (s *Store) dropStage(ctx context.Context, stage string) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.QueryTimeout)
	defer cancel()
	if err := s.conn.Exec(dctx, "DROP TABLE IF EXISTS "+stage); err != nil {
		s.log.Warn("could not drop a rollup staging table; an aggregator started after it is stale drops it, or drop it by hand", "table", stage, "stale_after", s.staleStageAge(), "err", err)
	}
}

// staleStageAge is how old a staging table must be before any aggregator
// drops it as left behind by a killed process. A live recomputation takes
// seconds to minutes (each statement is bounded by clickhouse.query_timeout
// per attempt), far below it.
func (s *Store) staleStageAge() time.Duration {
	return max(time.Hour, 4*time.Duration(s.cfg.MaxAttempts)*s.cfg.QueryTimeout)
}

// dropStaleStages drops the staging tables of this database older than
// staleStageAge: those of a process killed during a recomputation. Failures
// are logged, never returned: they cost disk, not correctness.
func (s *Store) dropStaleStages(ctx context.Context) {
	rows, err := s.conn.Query(ctx, "SELECT name FROM system.tables WHERE database = currentDatabase() AND name LIKE @prefix",
		clickhouse.Named("prefix", stagePrefix+"%"))
	if err != nil {
		s.log.Warn("could not list rollup staging tables left behind", "err", err)
		return
	}
	var stale []string
	now := time.Now()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			s.log.Warn("could not list rollup staging tables left behind", "err", err)
			break
		}
		if age, ok := stageAge(name, now); ok && age > s.staleStageAge() {
			stale = append(stale, name)
		}
	}
	_ = rows.Close()
	for _, name := range stale {
		s.log.Info("dropping a rollup staging table left behind by a stopped aggregator", "table", name)
		s.dropStage(ctx, name)
	}
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
