package tail

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/lib/topics"
)

func event(chain uint64, protocol, collUSD, id string) *liqstreamv1.LiquidationEvent {
	return &liqstreamv1.LiquidationEvent{ChainId: chain, Protocol: protocol, CollateralUsd: collUSD, EventId: id,
		Borrower: "0xabc", DebtToCover: "115792089237316195423570985008687907853269984665640564039457584007913129639935"}
}

// cluster starts an in-process broker with the events on a topic, plus one
// record that is not a LiquidationEvent.
func cluster(t *testing.T, evs ...*liqstreamv1.LiquidationEvent) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topics.Liquidations))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic(topics.Liquidations))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, ev := range evs {
		b, _ := proto.Marshal(ev)
		r := &kgo.Record{Key: topics.Key(ev.ChainId, ev.Borrower), Value: b,
			Headers: []kgo.RecordHeader{{Key: topics.HeaderSchema, Value: []byte(topics.SchemaLiquidationEvent)}}}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	poison := &kgo.Record{Value: []byte("not protobuf"), Headers: []kgo.RecordHeader{{Key: topics.HeaderSchema, Value: []byte("other.v9.Thing")}}}
	if err := cl.ProduceSync(ctx, poison).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return c.ListenAddrs()
}

func TestTailFilters(t *testing.T) {
	brokers := cluster(t,
		event(1, "aave-v3", "250000.00000000", "1:0xa:1"),
		event(137, "aave-v3", "10.00000000", "137:0xb:1"),
		event(1, "aave-v2", "99999.99999999", "1:0xc:2"),
		event(1, "aave-v3", "100000.00000000", "1:0xd:3"),
	)
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"all", Config{}, []string{"1:0xa:1", "137:0xb:1", "1:0xc:2", "1:0xd:3"}},
		{"chain", Config{ChainID: 137}, []string{"137:0xb:1"}},
		{"protocol", Config{Protocol: "AAVE-V2"}, []string{"1:0xc:2"}},
		{"min usd inclusive", Config{MinUSD: big.NewInt(100000_00000000)}, []string{"1:0xa:1", "1:0xd:3"}},
		{"max stops early", Config{ChainID: 1, Max: 1}, nil}, // checked by count below
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Brokers, cfg.FromBeginning = brokers, true
			want := len(tt.want)
			if cfg.Max == 0 {
				cfg.Max = want
			} else {
				want = cfg.Max
			}
			var out bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := Run(ctx, cfg, &out, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
				t.Fatal(err)
			}
			if ctx.Err() != nil {
				t.Fatalf("timed out; printed so far:\n%s", out.String())
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(lines) != want {
				t.Fatalf("printed %d lines, want %d:\n%s", len(lines), want, out.String())
			}
			got := map[string]bool{}
			for _, l := range lines {
				var m map[string]any
				if err := json.Unmarshal([]byte(l), &m); err != nil {
					t.Fatalf("line is not JSON: %s", l)
				}
				// The contract's JSON: proto field names, uint256 as a decimal string.
				if m["debt_to_cover"] != "115792089237316195423570985008687907853269984665640564039457584007913129639935" {
					t.Fatalf("debt_to_cover not an exact decimal string: %s", l)
				}
				got[m["event_id"].(string)] = true
			}
			for _, id := range tt.want {
				if !got[id] {
					t.Errorf("event %s missing from output:\n%s", id, out.String())
				}
			}
		})
	}
}

func TestTailNoBrokers(t *testing.T) {
	if err := Run(context.Background(), Config{}, io.Discard, slog.Default()); err == nil || !strings.Contains(err.Error(), "--brokers") {
		t.Fatalf("err = %v, want a hint about --brokers", err)
	}
}
