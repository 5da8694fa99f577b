package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/metric"

	"github.com/liqstream/liqstream/services/aggregator/aggregator"
	"github.com/liqstream/liqstream/services/aggregator/query"
	"github.com/liqstream/liqstream/services/chainsim/sim"
	"github.com/liqstream/liqstream/services/ingest/ingest"
	"github.com/liqstream/liqstream/services/lib/chains"
	"github.com/liqstream/liqstream/services/lib/kafkaconn"
	"github.com/liqstream/liqstream/services/lib/secret"
	"github.com/liqstream/liqstream/services/lib/topics"
)

// Config configures a demo run.
type Config struct {
	// Seed and Scale select the simulated data (see chainsim).
	Seed  int64
	Scale float64
	// From and To are the window, half-open, UTC (default Jan–Feb 2026).
	From, To time.Time
	// Chains are slugs (default the five demo chains).
	Chains []string
	// Conn holds real Kafka brokers and their TLS and SASL settings; no
	// brokers starts an embedded kfake broker on 127.0.0.1.
	kafkaconn.Conn
	// TopicPrefix is prepended to every topic name, so runs on a shared
	// broker do not see each other's records.
	TopicPrefix string
	// ClickHouseAddr is the native-protocol address of ClickHouse.
	ClickHouseAddr string
	// ClickHousePassword is the default user's password, if any.
	ClickHousePassword secret.String
	// Database is dropped and recreated at the start of the run.
	Database string
	// Timeout bounds the whole run.
	Timeout time.Duration
	// ProgressEvery is how often a progress line is written (0: never).
	ProgressEvery time.Duration
	// Windows are extra [from, to) windows compared per chain beside the
	// main one, e.g. a wave; they must be whole UTC hours inside it.
	Windows [][2]time.Time
}

// DefaultConfig returns the settings `make demo` uses.
func DefaultConfig() Config {
	from, to := sim.DefaultWindow()
	return Config{
		Seed: 1, Scale: 1, From: from, To: to,
		Chains:         append([]string(nil), chains.DemoChains...),
		ClickHouseAddr: "127.0.0.1:19000",
		Database:       "liqstream_demo",
		Timeout:        10 * time.Minute,
		ProgressEvery:  2 * time.Second,
		// The Jan 31–Feb 5 2026 wave and Jan 29: distinct counts over a
		// window must come out exact, not as sums of days.
		Windows: [][2]time.Time{
			{date(2026, 1, 29), date(2026, 1, 30)},
			{date(2026, 1, 31), date(2026, 2, 6)},
		},
	}
}

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// Run starts chainsim, a Kafka broker (unless given), one ingest per chain and
// the aggregator; waits until the ingests have published the window and
// ClickHouse holds what they published; and returns ClickHouse's figures
// beside the ground truth. progress receives human-readable progress lines.
func Run(ctx context.Context, cfg Config, log *slog.Logger, meter metric.Meter, progress io.Writer) (*Result, error) {
	start := time.Now()
	if cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
	}
	reg := chains.Default()
	var ids []uint64
	slugOf := map[uint64]string{}
	for _, s := range cfg.Chains {
		c, err := reg.Lookup(s)
		if err != nil {
			return nil, err
		}
		ids = append(ids, c.ID)
		slugOf[c.ID] = c.Slug
	}

	simulator, err := sim.New(sim.Config{Seed: cfg.Seed, Scale: cfg.Scale, From: cfg.From, To: cfg.To, Chains: ids})
	if err != nil {
		return nil, fmt.Errorf("building chain simulator: %w", err)
	}
	runCtx, stopAll := context.WithCancel(ctx)
	defer stopAll()
	rpcURL, err := simulator.Serve(runCtx, "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("starting chain simulator: %w", err)
	}

	kconn := cfg.Conn
	if len(kconn.Brokers) == 0 {
		cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
		if err != nil {
			return nil, fmt.Errorf("starting embedded Kafka broker: %w", err)
		}
		defer cluster.Close()
		kconn = kafkaconn.Conn{Brokers: cluster.ListenAddrs()}
		fmt.Fprintf(progress, "embedded Kafka broker (kfake) on %s\n", strings.Join(kconn.Brokers, ","))
	}

	conn, err := resetDatabase(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	defer conn.Close()

	// Ingests first: they create the topics the aggregator subscribes to.
	ingesters := make([]*ingest.Ingester, 0, len(ids))
	for _, id := range ids {
		icfg := ingest.DefaultConfig()
		icfg.Chain = slugOf[id]
		icfg.RPCURL = secret.URL(rpcURL + "/" + slugOf[id])
		icfg.From = cfg.From.UTC().Format(time.RFC3339)
		icfg.To = cfg.To.UTC().Format(time.RFC3339)
		icfg.ProgressInterval = time.Hour // the demo prints its own progress
		icfg.Kafka.Conn = kconn
		icfg.Kafka.TopicPrefix = cfg.TopicPrefix
		icfg.Kafka.Replication = -1
		in, err := ingest.New(icfg, log.With("service", "ingest", "chain", slugOf[id]), meter)
		if err != nil {
			return nil, fmt.Errorf("building ingest for %s: %w", slugOf[id], err)
		}
		ingesters = append(ingesters, in)
	}

	acfg := aggregator.DefaultConfig()
	acfg.Kafka.Conn = kconn
	acfg.Kafka.Topic = cfg.TopicPrefix + topics.Liquidations
	acfg.Kafka.DLQTopic = cfg.TopicPrefix + topics.LiquidationsDLQ
	// A fresh database needs every record of the topic again: a group of its own.
	acfg.Kafka.Group = fmt.Sprintf("liqstream-demo-%d", time.Now().UnixNano())
	acfg.ClickHouse.Addr = []string{cfg.ClickHouseAddr}
	acfg.ClickHouse.Database = cfg.Database
	acfg.ClickHouse.Password = cfg.ClickHousePassword
	acfg.MetricsAddr = ""
	agg, err := aggregator.New(acfg, log.With("service", "aggregator"), meter)
	if err != nil {
		return nil, fmt.Errorf("building aggregator: %w", err)
	}

	var wg sync.WaitGroup
	ingestErrs := make([]error, len(ingesters))
	for i, in := range ingesters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ingestErrs[i] = in.Run(runCtx)
		}()
	}
	ingestsDone := make(chan struct{})
	go func() { wg.Wait(); close(ingestsDone) }()

	// The aggregator starts once the ingests have created the topics.
	aggDone := make(chan error, 1)
	aggStarted := false
	startAgg := func() {
		if !aggStarted {
			aggStarted = true
			go func() { aggDone <- agg.Run(runCtx) }()
		}
	}

	var tick <-chan time.Time
	if cfg.ProgressEvery > 0 {
		t := time.NewTicker(cfg.ProgressEvery)
		defer t.Stop()
		tick = t.C
	}
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()

	published := func() (n uint64) {
		for _, in := range ingesters {
			n += in.Progress().EventsPublished
		}
		return n
	}
	var done bool
	for !done {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("demo did not finish within its timeout (%s): %w", cfg.Timeout, ctx.Err())
		case err := <-aggDone:
			return nil, fmt.Errorf("aggregator stopped early: %w", err)
		case <-ingestsDone:
			if err := errors.Join(ingestErrs...); err != nil {
				return nil, fmt.Errorf("ingest failed: %w", err)
			}
			startAgg()
			done = true
		case <-poll.C:
			if allTopicsReady(ingesters) {
				startAgg()
			}
		case <-tick:
			writeProgress(progress, ingesters, agg, start)
		}
	}

	// Every event is published; wait until the aggregator has committed the
	// whole topic (a rerun on a real broker publishes nothing new but the
	// topic holds every record) and ClickHouse has stored what was published.
	want := published()
	adm, err := newConnAdmin(kconn)
	if err != nil {
		return nil, err
	}
	defer adm.Close()
	for {
		caught, err := caughtUp(ctx, adm, acfg.Kafka.Topic, acfg.Kafka.Group)
		if err != nil {
			return nil, err
		}
		if caught && agg.Stats().RowsWritten >= want {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("aggregator stored %d of %d events and had not committed the whole topic before the timeout: %w", agg.Stats().RowsWritten, want, ctx.Err())
		case err := <-aggDone:
			return nil, fmt.Errorf("aggregator stopped early: %w", err)
		case <-poll.C:
		case <-tick:
			writeProgress(progress, ingesters, agg, start)
		}
	}
	writeProgress(progress, ingesters, agg, start)
	stopAll()
	if err := <-aggDone; err != nil {
		return nil, fmt.Errorf("stopping aggregator: %w", err)
	}

	res, err := compare(ctx, conn, simulator, ids, slugOf, cfg.From, cfg.To, cfg.Windows)
	if err != nil {
		return nil, err
	}
	res.Published = want
	res.Elapsed = time.Since(start)
	return res, nil
}

// admin is a Kafka admin client and the Conn it was made with, which the
// readers of onlyMarkers reuse.
type admin struct {
	*kadm.Client
	conn kafkaconn.Conn
}

// newAdmin is newConnAdmin of plaintext brokers.
func newAdmin(brokers []string) (*admin, error) {
	return newConnAdmin(kafkaconn.Conn{Brokers: brokers})
}

func newConnAdmin(conn kafkaconn.Conn) (*admin, error) {
	cl, err := conn.NewClient()
	if err != nil {
		return nil, fmt.Errorf("creating Kafka admin client: %w", err)
	}
	return &admin{Client: kadm.NewClient(cl), conn: conn}, nil
}

// caughtUp reports whether group has committed every partition of topic up
// to its end offset, not counting transaction markers and aborted records.
func caughtUp(ctx context.Context, adm *admin, topic, group string) (bool, error) {
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return false, fmt.Errorf("listing end offsets of %s: %w", topic, adm.conn.Explain(err))
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return false, nil // the group has not committed anything yet
	}
	if err != nil {
		return false, fmt.Errorf("fetching offsets of group %s: %w", group, err)
	}
	// Ingest publishes in transactions: commit and abort markers occupy
	// offsets the group never consumes, so the committed offset may stay
	// below the end offset. A partition is caught up when nothing but
	// markers and aborted records lies between them.
	behind := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset <= 0 {
			return
		}
		at := int64(0)
		if c, ok := committed.Lookup(topic, o.Partition); ok && c.At >= 0 {
			at = c.At
		}
		if at < o.Offset {
			behind[o.Partition] = kgo.NewOffset().At(at)
		}
	})
	if len(behind) == 0 {
		return true, nil
	}
	return onlyMarkers(ctx, adm, topic, behind, ends)
}

// onlyMarkers reads each partition read_committed from its offset to its end
// offset and reports whether it holds no committed data record there.
func onlyMarkers(ctx context.Context, adm *admin, topic string, from map[int32]kgo.Offset, ends kadm.ListedOffsets) (bool, error) {
	brokers, err := adm.ListBrokers(ctx)
	if err != nil {
		return false, fmt.Errorf("listing brokers: %w", err)
	}
	var seeds []string
	for _, b := range brokers {
		seeds = append(seeds, net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port))))
	}
	conn := adm.conn
	conn.Brokers = seeds
	cl, err := conn.NewClient(kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}))
	if err != nil {
		return false, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	left := len(from)
	done := map[int32]bool{}
	for left > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return false, nil // an open transaction: not caught up yet
		}
		data := false
		fs.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsControl() {
				data = true
			}
			if end, ok := ends.Lookup(topic, r.Partition); ok && r.Offset+1 >= end.Offset && !done[r.Partition] {
				done[r.Partition] = true
				left--
			}
		})
		if data {
			return false, nil
		}
	}
	return true, nil
}

// allTopicsReady reports whether every ingest got past topic creation.
func allTopicsReady(ins []*ingest.Ingester) bool {
	for _, in := range ins {
		if p := in.Progress(); p.To == 0 && !p.Done {
			return false
		}
	}
	return true
}

func writeProgress(w io.Writer, ins []*ingest.Ingester, agg *aggregator.Aggregator, start time.Time) {
	var parts []string
	for _, in := range ins {
		p := in.Progress()
		pct := 0.0
		if p.To > p.From {
			pct = 100 * float64(p.Current-min(p.Current, p.From)) / float64(p.To-p.From)
		}
		if p.Done {
			pct = 100
		}
		parts = append(parts, fmt.Sprintf("%s %3.0f%% %d ev", p.Chain, pct, p.EventsPublished))
	}
	s := agg.Stats()
	fmt.Fprintf(w, "[%5.1fs] ingest: %s | aggregator: %d consumed, %d stored\n",
		time.Since(start).Seconds(), strings.Join(parts, ", "), s.RecordsConsumed, s.RowsWritten)
}

// resetDatabase drops and recreates the demo database and applies the
// migrations, so every run starts clean.
func resetDatabase(ctx context.Context, cfg Config, log *slog.Logger) (driver.Conn, error) {
	admin, err := clickhouse.Open(&clickhouse.Options{Addr: []string{cfg.ClickHouseAddr},
		Auth: clickhouse.Auth{Password: cfg.ClickHousePassword.Reveal()}, DialTimeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("connecting to ClickHouse at %s: %w", cfg.ClickHouseAddr, err)
	}
	defer admin.Close()
	if err := admin.Ping(ctx); err != nil {
		return nil, fmt.Errorf("ClickHouse at %s does not answer: %w (start it with scripts/clickhouse-start.sh)", cfg.ClickHouseAddr, err)
	}
	if err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+cfg.Database); err != nil {
		return nil, fmt.Errorf("dropping demo database %s: %w", cfg.Database, err)
	}
	acfg := aggregator.DefaultConfig().ClickHouse
	acfg.Addr = []string{cfg.ClickHouseAddr}
	acfg.Database = cfg.Database
	acfg.Password = cfg.ClickHousePassword
	if _, err := aggregator.Migrate(ctx, acfg, log.With("service", "migrate"), false); err != nil {
		return nil, fmt.Errorf("migrating demo database: %w", err)
	}
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{cfg.ClickHouseAddr},
		Auth: clickhouse.Auth{Database: cfg.Database, Password: cfg.ClickHousePassword.Reveal()}})
	if err != nil {
		return nil, fmt.Errorf("connecting to ClickHouse database %s: %w", cfg.Database, err)
	}
	return conn, nil
}

// compare reads the window and daily figures from ClickHouse's rollups and
// sets them beside chainsim's ground truth.
func compare(ctx context.Context, conn driver.Conn, s *sim.Sim, ids []uint64, slugOf map[uint64]string, from, to time.Time, extra [][2]time.Time) (*Result, error) {
	truth := s.Truth()
	window := func(wf, wt time.Time) ([]ChainResult, error) {
		sum, err := query.CycleSummary(ctx, conn, wf, wt)
		if err != nil {
			return nil, fmt.Errorf("querying cycle summary for %s..%s: %w", day(wf), day(wt), err)
		}
		byChain := map[uint64]query.ChainSummary{}
		for _, c := range sum {
			byChain[c.ChainID] = c
		}
		var out []ChainResult
		for _, id := range ids {
			w := truth.Window(id, wf, wt)
			out = append(out, ChainResult{
				Chain: slugOf[id], ChainID: id, From: wf, To: wt,
				Measured: fromSummary(byChain[id]),
				Truth:    Figures{CollateralUSD: w.CollateralUSD, DebtUSD: w.DebtUSD, Events: w.Events, Txs: w.Txs, Borrowers: w.Borrowers},
			})
		}
		return out, nil
	}
	res := &Result{From: from, To: to}
	var err error
	if res.Chains, err = window(from, to); err != nil {
		return nil, err
	}
	for _, w := range extra {
		cs, err := window(w[0], w[1])
		if err != nil {
			return nil, err
		}
		res.Windows = append(res.Windows, cs...)
	}
	series, err := query.DailySeries(ctx, conn, from, to)
	if err != nil {
		return nil, fmt.Errorf("querying daily series: %w", err)
	}
	type key struct {
		chain uint64
		day   int64
	}
	byDay := map[key]query.DailyPoint{}
	for _, p := range series {
		byDay[key{p.ChainID, p.Day.Unix()}] = p
	}
	for _, id := range ids {
		for _, d := range truth.Days(id) {
			if d.Day.Before(from) || !d.Day.Before(to) {
				continue
			}
			res.Days = append(res.Days, DayResult{
				Chain: slugOf[id], Day: d.Day,
				Measured: fromSummary(byDay[key{id, d.Day.Unix()}].ChainSummary),
				Truth:    Figures{CollateralUSD: d.CollateralUSD, DebtUSD: d.DebtUSD, Events: d.Events, Txs: d.Txs, Borrowers: d.Borrowers},
			})
		}
	}
	sort.SliceStable(res.Days, func(i, j int) bool { return res.Days[i].Day.Before(res.Days[j].Day) })
	return res, nil
}

func fromSummary(c query.ChainSummary) Figures {
	f := Figures{CollateralUSD: c.CollateralUSD, DebtUSD: c.DebtUSD, Events: c.Events, Txs: c.Txs, Borrowers: c.Borrowers}
	if f.CollateralUSD == nil {
		f.CollateralUSD = new(big.Int)
	}
	if f.DebtUSD == nil {
		f.DebtUSD = new(big.Int)
	}
	return f
}
