package ingest_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	"github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/ingest/ingest"
	"github.com/liqstream/liqstream/services/ingest/publish"
	"github.com/liqstream/liqstream/services/ingest/rpc"
	"github.com/liqstream/liqstream/services/lib/telemetry"
	"github.com/liqstream/liqstream/services/lib/testsupport"
	"github.com/liqstream/liqstream/services/lib/topics"
)

// TestTracesFromFetchToRecord backfills a chainsim window into kfake with an
// in-memory span recorder: every range has a fetch span with the chain and
// block range, getLogs, decode and price spans are its children, every
// record's producer span is a child of the fetch span of the range holding
// the record's block, and the record's traceparent names its producer span.
func TestTracesFromFetchToRecord(t *testing.T) {
	c := startKfake(t)
	f := startSim(t, 137, "polygon", 0.05)
	cfg := f.config(c.ListenAddrs())
	cfg.From, cfg.To = "2026-01-05", "2026-01-19"
	cfg.LogRange = 50_000
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	in, err := ingest.New(cfg, testLogger(t), nil, ingest.WithTracerProvider(tp))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := in.Run(ctx); err != nil {
		t.Fatal(err)
	}
	recs := testsupport.ReadTopic(t, c.ListenAddrs(), cfg.Kafka.TopicPrefix+topics.Liquidations)
	if len(recs) == 0 {
		t.Fatal("no records published")
	}

	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	count := map[string]int{}
	for _, s := range sr.Ended() {
		byID[s.SpanContext().SpanID()] = s
		count[s.Name()]++
	}
	parentOf := func(s sdktrace.ReadOnlySpan, want string) sdktrace.ReadOnlySpan {
		t.Helper()
		p, ok := byID[s.Parent().SpanID()]
		if !ok || p.Name() != want || p.SpanContext().TraceID() != s.SpanContext().TraceID() {
			t.Fatalf("%s span has parent %v, want a %s span of the same trace", s.Name(), s.Parent(), want)
		}
		return p
	}
	for _, s := range sr.Ended() {
		switch s.Name() {
		case rpc.SpanGetLogs, ingest.SpanDecode, ingest.SpanPrice:
			parentOf(s, ingest.SpanFetchRange)
		case ingest.SpanFetchRange:
			a := attrMap(s)
			if a["liqstream.chain"].AsString() != "polygon" || a["liqstream.chain_id"].AsInt64() != 137 ||
				a["liqstream.block.to"].AsInt64() < a["liqstream.block.from"].AsInt64() {
				t.Fatalf("fetch span attributes %v", s.Attributes())
			}
		}
	}
	if count[ingest.SpanFetchRange] < 2 || count[rpc.SpanGetLogs] < count[ingest.SpanFetchRange] ||
		count[ingest.SpanDecode] != count[ingest.SpanFetchRange] || count[ingest.SpanPrice] == 0 {
		t.Fatalf("span counts %v: want several fetch spans, each with getLogs and decode, and price spans", count)
	}
	for _, r := range recs {
		sc := trace.SpanContextFromContext(telemetry.ExtractRecord(context.Background(), r))
		p, ok := byID[sc.SpanID()]
		if !sc.IsValid() || !ok || p.Name() != publish.SpanProduce || p.SpanContext().TraceID() != sc.TraceID() {
			t.Fatalf("record at %d/%d: traceparent %v names no recorded producer span", r.Partition, r.Offset, sc)
		}
		fetch := parentOf(p, ingest.SpanFetchRange)
		block := blockOf(t, r)
		fa := attrMap(fetch)
		if int64(block) < fa["liqstream.block.from"].AsInt64() || int64(block) > fa["liqstream.block.to"].AsInt64() {
			t.Fatalf("record of block %d has the fetch span of blocks %v..%v", block, fa["liqstream.block.from"].Emit(), fa["liqstream.block.to"].Emit())
		}
	}
	t.Logf("%d records; spans %v", len(recs), count)
}

func attrMap(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

// blockOf returns the block number of a liquidation or deficit record.
func blockOf(t *testing.T, r *kgo.Record) uint64 {
	t.Helper()
	var m interface {
		proto.Message
		GetBlockNumber() uint64
	} = &liqstreamv1.LiquidationEvent{}
	for _, h := range r.Headers {
		if h.Key == topics.HeaderSchema && string(h.Value) == topics.SchemaDeficitEvent {
			m = &liqstreamv1.DeficitEvent{}
		}
	}
	if err := proto.Unmarshal(r.Value, m); err != nil {
		t.Fatalf("record at %d/%d: %v", r.Partition, r.Offset, err)
	}
	return m.GetBlockNumber()
}
