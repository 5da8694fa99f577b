package aggregator_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/metric/noop"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	liqstreamv1 "github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/aggregator/aggregator"
	"github.com/liqstream/liqstream/services/aggregator/consume"
	"github.com/liqstream/liqstream/services/aggregator/internal/synth"
	"github.com/liqstream/liqstream/services/aggregator/query"
	"github.com/liqstream/liqstream/services/lib/testsupport"
	"github.com/liqstream/liqstream/services/lib/topics"
)

// TestSchemaEvolutionOnTheTopic: a record of an unknown major version of the
// contract goes to the dead-letter topic as unknown_schema, an empty record
// as empty_value, and a v1 record carrying fields this build does not know
// (a compatible minor addition) is stored and counted like any other.
func TestSchemaEvolutionOnTheTopic(t *testing.T) {
	cfg, conn, cl := fixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	from := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	to := from.Add(24 * time.Hour)
	evs := synth.New(testsupport.Seed(t)).Events(200, from, 24*time.Hour)
	if err := produce(ctx, cl, cfg.Kafka.Topic, evs[:199]); err != nil {
		t.Fatal(err)
	}

	// The last event with unknown fields appended: a varint (field 1000) and
	// a string (field 1001), as a newer minor version of the producer would
	// write them.
	future, err := proto.Marshal(evs[199])
	if err != nil {
		t.Fatal(err)
	}
	future = protowire.AppendTag(future, 1000, protowire.VarintType)
	future = protowire.AppendVarint(future, 42)
	future = protowire.AppendTag(future, 1001, protowire.BytesType)
	future = protowire.AppendString(future, "a field from the future")
	var check liqstreamv1.LiquidationEvent
	if err := proto.Unmarshal(future, &check); err != nil || len(check.ProtoReflect().GetUnknown()) == 0 {
		t.Fatalf("the test's record carries no unknown fields (err %v)", err)
	}
	v1 := []kgo.RecordHeader{{Key: topics.HeaderSchema, Value: []byte(topics.SchemaLiquidationEvent)}}
	v2Value, _ := proto.Marshal(evs[0])
	if err := cl.ProduceSync(ctx,
		&kgo.Record{Topic: cfg.Kafka.Topic, Key: []byte("unknown-fields"), Value: future, Headers: v1},
		&kgo.Record{Topic: cfg.Kafka.Topic, Key: []byte("v2"), Value: v2Value,
			Headers: []kgo.RecordHeader{{Key: topics.HeaderSchema, Value: []byte("liqstream.v2.LiquidationEvent")}}},
		&kgo.Record{Topic: cfg.Kafka.Topic, Key: []byte("empty"), Headers: v1},
	).FirstErr(); err != nil {
		t.Fatal(err)
	}

	r := start(t, cfg)
	want := synth.Group(synth.Latest(evs), from, to, nil)
	waitForTruth(ctx, t, conn, from, to, want)
	reasons := deadLettered(ctx, t, cfg, 2)
	if reasons["v2"] != consume.ReasonUnknownSchema || reasons["empty"] != consume.ReasonEmptyValue {
		t.Errorf("dead-letter reasons = %v, want v2: %s and empty: %s", reasons, consume.ReasonUnknownSchema, consume.ReasonEmptyValue)
	}
	if _, ok := reasons["unknown-fields"]; ok {
		t.Errorf("the record with unknown fields was dead-lettered (%s); it must be stored", reasons["unknown-fields"])
	}
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM liquidations FINAL WHERE event_id = @id",
		namedID(evs[199].GetEventId())...).Scan(&n); err != nil || n != 1 {
		t.Errorf("event with unknown fields stored %d times (%v), want 1", n, err)
	}
	r.stop(t)
}

// TestClickHouseOutageIsRetriedWithoutLossOrDuplication puts a proxy between
// the aggregator and ClickHouse, takes it down (listener closed, open
// connections cut, as in a server restart) while records are being written,
// and checks that nothing is committed while ClickHouse is away and that
// once it is back every figure equals the ground truth.
func TestClickHouseOutageIsRetriedWithoutLossOrDuplication(t *testing.T) {
	cfg, conn, cl := fixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 55*time.Second)
	defer cancel()
	px := newFlakyProxy(t, cfg.ClickHouse.Addr[0])
	cfg.ClickHouse.Addr = []string{px.addr}
	cfg.ClickHouse.DialTimeout = time.Second
	cfg.ClickHouse.QueryTimeout = 5 * time.Second
	cfg.ClickHouse.MaxAttempts = 3
	cfg.ClickHouse.RetryBackoff = 100 * time.Millisecond
	cfg.Batch.MaxRecords = 300

	g := synth.New(testsupport.Seed(t))
	from := time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)
	to := from.Add(3 * 24 * time.Hour)
	evs := g.Events(6000, from, 3*24*time.Hour)
	for i := 0; i < len(evs); i += 7 {
		evs = append(evs, g.Revise(evs[i]))
	}
	first, second := evs[:2000], evs[2000:]

	var logs testsupport.SyncBuffer
	agg, err := aggregator.New(cfg, slog.New(slog.NewTextHandler(&logs, nil)), noop.NewMeterProvider().Meter("test"))
	if err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- agg.Run(rctx) }()
	defer func() {
		rcancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("aggregator.Run = %v after cancel, want nil", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("aggregator did not stop within 30s")
		}
	}()

	if err := produce(ctx, cl, cfg.Kafka.Topic, first); err != nil {
		t.Fatal(err)
	}
	waitForTruth(ctx, t, conn, from, to, synth.Group(synth.Latest(first), from, to, nil))

	// ClickHouse goes away while the second part streams in.
	produced := make(chan error, 1)
	go func() { produced <- produce(ctx, cl, cfg.Kafka.Topic, second) }()
	time.Sleep(50 * time.Millisecond)
	px.down()
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	testsupport.Eventually(t, 20*time.Second, 50*time.Millisecond, func() bool {
		return strings.Contains(logs.String(), "retrying")
	}, "no write was retried while ClickHouse was unreachable; logs:\n%s", logs.String())
	time.Sleep(2 * time.Second)
	if ok, behind := committedAll(ctx, t, adm, cfg); ok || behind == 0 {
		t.Fatalf("the group committed every record while ClickHouse was unreachable")
	}
	px.up()

	waitForTruth(ctx, t, conn, from, to, synth.Group(synth.Latest(evs), from, to, nil))
	testsupport.Eventually(t, 20*time.Second, 100*time.Millisecond, func() bool {
		ok, _ := committedAll(ctx, t, adm, cfg)
		return ok
	}, "the group never committed every record after ClickHouse came back")
	raw, err := query.CycleSummaryRaw(ctx, conn, from, to)
	if err != nil {
		t.Fatal(err)
	}
	compareSummaries(t, "CycleSummaryRaw", raw, synth.Group(synth.Latest(evs), from, to, nil))
	var final uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM liquidations FINAL").Scan(&final); err != nil || final != 6000 {
		t.Errorf("liquidations FINAL holds %d rows (%v), want 6000 distinct events", final, err)
	}
	t.Logf("%d write retries logged during a %s outage; proxy cut %d open connections",
		strings.Count(logs.String(), "retrying"), px.downFor(), px.cut)
}

// waitForTruth waits until CycleSummary over [from, to) equals want.
func waitForTruth(ctx context.Context, t *testing.T, conn driver.Conn, from, to time.Time, want map[synth.Key]synth.Totals) {
	t.Helper()
	var got []query.ChainSummary
	testsupport.Eventually(t, 30*time.Second, 100*time.Millisecond, func() bool {
		var err error
		if got, err = query.CycleSummary(ctx, conn, from, to); err != nil {
			return false
		}
		return summariesEqual(got, want)
	}, "rollup totals never matched the produced events: got %v, want %v", got, want)
}

func summariesEqual(got []query.ChainSummary, want map[synth.Key]synth.Totals) bool {
	if len(got) != len(want) {
		return false
	}
	for _, s := range got {
		w, ok := want[synth.Key{ChainID: s.ChainID}]
		if !ok || !w.Equal(synth.Totals{Chain: s.Chain, CollateralUSD: s.CollateralUSD, DebtUSD: s.DebtUSD, Events: s.Events, Txs: s.Txs, Borrowers: s.Borrowers}) {
			return false
		}
	}
	return true
}

func compareSummaries(t *testing.T, what string, got []query.ChainSummary, want map[synth.Key]synth.Totals) {
	t.Helper()
	if !summariesEqual(got, want) {
		t.Errorf("%s = %+v, want %v", what, got, want)
	}
}

// committedAll reports whether the group committed the end offset of every
// partition, and how many records it is behind.
func committedAll(ctx context.Context, t *testing.T, adm *kadm.Client, cfg aggregator.Config) (bool, int64) {
	t.Helper()
	ends, err := adm.ListEndOffsets(ctx, cfg.Kafka.Topic)
	if err != nil {
		t.Logf("listing end offsets: %v", err)
		return false, -1
	}
	committed, err := adm.FetchOffsets(ctx, cfg.Kafka.Group)
	if err != nil {
		t.Logf("fetching committed offsets: %v", err)
		return false, -1
	}
	var behind int64
	ends.Each(func(o kadm.ListedOffset) {
		at := int64(0)
		if c, ok := committed.Lookup(cfg.Kafka.Topic, o.Partition); ok && c.At >= 0 {
			at = c.At
		}
		behind += o.Offset - at
	})
	return behind == 0, behind
}

// deadLettered reads the dead-letter topic until want keys were seen.
func deadLettered(ctx context.Context, t *testing.T, cfg aggregator.Config, want int) map[string]string {
	t.Helper()
	dl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Kafka.Brokers...), kgo.ConsumeTopics(cfg.Kafka.DLQTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer dl.Close()
	reasons := map[string]string{}
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for len(reasons) < want && pctx.Err() == nil {
		dl.PollFetches(pctx).EachRecord(func(r *kgo.Record) {
			for _, h := range r.Headers {
				if h.Key == topics.HeaderDLQReason {
					reasons[string(r.Key)] = string(h.Value)
				}
			}
		})
	}
	return reasons
}

// flakyProxy forwards TCP connections to a target and can go down (listener
// closed, connections cut) and come back on the same address.
type flakyProxy struct {
	t      *testing.T
	target string
	addr   string

	mu        sync.Mutex
	ln        net.Listener
	conns     map[net.Conn]bool
	wentDown  time.Time
	downTotal time.Duration
	cut       int
}

func newFlakyProxy(t *testing.T, target string) *flakyProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &flakyProxy{t: t, target: target, addr: ln.Addr().String(), ln: ln, conns: map[net.Conn]bool{}}
	go p.serve(ln)
	t.Cleanup(p.down)
	return p
}

func (p *flakyProxy) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		up, err := net.DialTimeout("tcp", p.target, 2*time.Second)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		if p.ln != ln { // went down meanwhile
			p.mu.Unlock()
			_ = c.Close()
			_ = up.Close()
			return
		}
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		pipe := func(dst, src net.Conn) {
			_, _ = io.Copy(dst, src)
			_ = dst.Close()
			_ = src.Close()
		}
		go pipe(up, c)
		go pipe(c, up)
	}
}

// down closes the listener (new connections are refused) and cuts every
// open connection mid-stream.
func (p *flakyProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		return
	}
	_ = p.ln.Close()
	p.ln = nil
	p.wentDown = time.Now()
	for c := range p.conns {
		_ = c.Close()
		p.cut++
	}
	p.conns = map[net.Conn]bool{}
}

// up listens on the same address again.
func (p *flakyProxy) up() {
	p.t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("proxy cannot listen on %s again: %v", p.addr, err)
	}
	p.mu.Lock()
	p.ln = ln
	p.downTotal += time.Since(p.wentDown)
	p.mu.Unlock()
	go p.serve(ln)
}

func (p *flakyProxy) downFor() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.downTotal.Round(time.Millisecond)
}

func namedID(id string) []any { return []any{clickhouse.Named("id", id)} }
