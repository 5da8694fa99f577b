package bench

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/rand"
	"sort"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	liqstreamv1 "github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/aggregator/internal/synth"
	"github.com/liqstream/liqstream/services/aggregator/migrate"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
)

// uniqueName returns prefix plus a random suffix.
func uniqueName(prefix string) string {
	b := make([]byte, 4)
	_, _ = crand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}

// database creates and migrates a fresh ClickHouse database and returns its
// name, a connection to it and a function that drops it.
func database(ctx context.Context, addr string, log *slog.Logger) (string, driver.Conn, func(), error) {
	db := uniqueName("liqstream_bench")
	admin, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}})
	if err != nil {
		return "", nil, nil, fmt.Errorf("connecting to ClickHouse at %s: %w", addr, err)
	}
	if _, err := migrate.Run(ctx, admin, db, log); err != nil {
		_ = admin.Close()
		return "", nil, nil, fmt.Errorf("migrating %s: %w", db, err)
	}
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, Auth: clickhouse.Auth{Database: db},
		Settings: clickhouse.Settings{"max_execution_time": 600}})
	if err != nil {
		_ = admin.Close()
		return "", nil, nil, err
	}
	drop := func() {
		_ = conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		_ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+db)
		_ = admin.Close()
	}
	return db, conn, drop, nil
}

// Window is the span synthetic events cover: 60 days, as the demo's.
var (
	windowFrom = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	windowTo   = windowFrom.Add(60 * 24 * time.Hour)
)

// genChunk is how many events generate hands over at a time.
const genChunk = 10_000

// generate calls fn with n seeded synthetic events, genChunk at a time, in
// block-time order over the window: the order ingest publishes a backfill
// in, so a batch touches a few days of rollups, not all of them. The
// generator draws every address at random; generate maps assets to 20
// tokens and liquidators to 300 bots, the shape of real Aave markets, which
// the pair and liquidator rollups depend on. The same seed and n give the
// same events.
func generate(n int, seed int64, fn func([]*liqstreamv1.LiquidationEvent) error) error {
	g := synth.New(seed)
	rng := rand.New(rand.NewSource(seed))
	tokens, bots := make([]string, 20), make([]string, 300)
	for i := range tokens {
		tokens[i] = fmt.Sprintf("0x%040x", rng.Uint64())
	}
	for i := range bots {
		bots[i] = fmt.Sprintf("0x%040x", rng.Uint64())
	}
	chunks := (n + genChunk - 1) / genChunk
	step := windowTo.Sub(windowFrom) / time.Duration(max(chunks, 1))
	for i, done := 0, 0; done < n; i++ {
		k := min(genChunk, n-done)
		evs := g.Events(k, windowFrom.Add(time.Duration(i)*step), step)
		for _, ev := range evs {
			ev.CollateralAsset.Address = tokens[rng.Intn(len(tokens))]
			ev.DebtAsset.Address = tokens[rng.Intn(len(tokens))]
			ev.Liquidator = bots[rng.Intn(len(bots))]
		}
		sort.SliceStable(evs, func(a, b int) bool { return evs[a].GetBlockTime().AsTime().Before(evs[b].GetBlockTime().AsTime()) })
		if err := fn(evs); err != nil {
			return err
		}
		done += k
	}
	return nil
}

// Preload creates topic with the given partitions and produces n synthetic
// events into it, keyed like ingest keys them (chain and borrower).
func Preload(ctx context.Context, brokers []string, topic string, partitions int32, n int, seed int64) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(5*time.Millisecond),
		kgo.ProducerBatchCompression(kgo.Lz4Compression(), kgo.NoCompression()),
		kgo.ProducerBatchMaxBytes(1<<20), kgo.MaxBufferedRecords(100_000))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, partitions, -1, nil, topic); err != nil {
		return fmt.Errorf("creating topic %s: %w", topic, err)
	}
	var (
		mu   sync.Mutex
		perr error
	)
	err = generate(n, seed, func(evs []*liqstreamv1.LiquidationEvent) error {
		for _, ev := range evs {
			v, err := proto.Marshal(ev)
			if err != nil {
				return err
			}
			key := fmt.Appendf(nil, "%d:%s", ev.GetChainId(), ev.GetBorrower())
			cl.Produce(ctx, &kgo.Record{Topic: topic, Key: key, Value: v}, func(_ *kgo.Record, err error) {
				mu.Lock()
				if err != nil && perr == nil {
					perr = err
				}
				mu.Unlock()
			})
		}
		return ctx.Err()
	})
	if ferr := cl.Flush(ctx); err == nil {
		err = ferr
	}
	mu.Lock()
	if err == nil {
		err = perr
	}
	mu.Unlock()
	if err != nil {
		return fmt.Errorf("preloading %d events into %s: %w", n, topic, err)
	}
	return nil
}
