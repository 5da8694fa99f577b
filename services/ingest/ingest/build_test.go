package ingest_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/chainsim/sim"
	"github.com/liqstream/liqstream/services/ingest/ingest"
	"github.com/liqstream/liqstream/services/lib/secret"
	"github.com/liqstream/liqstream/services/lib/testsupport"
	"github.com/liqstream/liqstream/services/lib/topics"
	"github.com/liqstream/liqstream/services/lib/usd"
)

// TestBonusFeeAndDeficitsMatchTruth ingests a week of Base from a chainsim
// that also emits DeficitCreated logs and serves the PoolDataProvider, and
// checks every liquidation's bonus and protocol fee and every deficit (amount,
// USD, link to its liquidation, schema header) against the simulator's truth.
func TestBonusFeeAndDeficitsMatchTruth(t *testing.T) {
	const chainID, slug = 8453, "base"
	s, err := sim.New(sim.Config{Seed: testsupport.Seed(t), Scale: 0.1, Chains: []uint64{chainID}, DeficitShare: 0.3})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base, err := s.Serve(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := startKfake(t)
	cfg := ingest.DefaultConfig()
	cfg.Chain, cfg.RPCURL = slug, secret.URL(base+"/"+slug)
	cfg.From, cfg.To = "2026-02-01", "2026-02-08"
	cfg.Kafka.Brokers = c.ListenAddrs()
	cfg.Kafka.TopicPrefix = testsupport.UniqueName("build_test") + "."
	in, err := ingest.New(cfg, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Run(ctx); err != nil {
		t.Fatal(err)
	}
	from, to := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 8, 0, 0, 0, 0, time.UTC)
	wantLiq := map[string]sim.Event{}
	for _, ev := range s.Truth().Events(chainID) {
		if !ev.BlockTime.Before(from) && ev.BlockTime.Before(to) {
			wantLiq["8453:"+lowerHex(ev.TxHash.Bytes())+":"+itoa(ev.LogIndex)] = ev
		}
	}
	wantDef := map[string]sim.Deficit{}
	for _, d := range s.Truth().Deficits(chainID) {
		bt := s.BlockTime(chainID, d.BlockNumber)
		if !bt.Before(from) && bt.Before(to) {
			wantDef["8453:"+lowerHex(d.TxHash.Bytes())+":"+itoa(d.LogIndex)] = d
		}
	}
	if len(wantDef) == 0 || len(wantLiq) == 0 {
		t.Fatalf("truth has %d liquidations and %d deficits in the window; the test needs both", len(wantLiq), len(wantDef))
	}
	gotLiq, gotDef := 0, 0
	for _, r := range testsupport.ReadTopic(t, cfg.Kafka.Brokers, cfg.Kafka.TopicPrefix+topics.Liquidations) {
		schema := ""
		for _, h := range r.Headers {
			if h.Key == topics.HeaderSchema {
				schema = string(h.Value)
			}
		}
		switch schema {
		case topics.SchemaLiquidationEvent:
			var ev liqstreamv1.LiquidationEvent
			if err := proto.Unmarshal(r.Value, &ev); err != nil {
				t.Fatal(err)
			}
			w, ok := wantLiq[ev.EventId]
			if !ok {
				t.Fatalf("event %s not in truth", ev.EventId)
			}
			gotLiq++
			if ev.BonusUsd != usd.Format(w.BonusUSD) || ev.ProtocolFeeUsd != usd.Format(w.ProtocolFeeUSD) || ev.ProtocolFeeAmount != w.ProtocolFeeAmount.String() {
				t.Errorf("%s: bonus %s fee %s (%s), truth %s %s (%s)", ev.EventId, ev.BonusUsd, ev.ProtocolFeeUsd, ev.ProtocolFeeAmount,
					usd.Format(w.BonusUSD), usd.Format(w.ProtocolFeeUSD), w.ProtocolFeeAmount)
			}
		case topics.SchemaDeficitEvent:
			var ev liqstreamv1.DeficitEvent
			if err := proto.Unmarshal(r.Value, &ev); err != nil {
				t.Fatal(err)
			}
			w, ok := wantDef[ev.EventId]
			if !ok {
				t.Fatalf("deficit %s not in truth", ev.EventId)
			}
			gotDef++
			link := "8453:" + lowerHex(w.TxHash.Bytes()) + ":" + itoa(w.LiquidationLogIndex)
			if ev.AmountCreated != w.Amount.String() || ev.AmountUsd != usd.Format(w.AmountUSD) || ev.LiquidationEventId != link ||
				ev.Borrower != lowerHex(w.Borrower.Bytes()) || string(r.Key) != "8453:"+ev.Borrower {
				t.Errorf("deficit %s: amount %s usd %s link %s key %s; truth %s %s %s", ev.EventId, ev.AmountCreated, ev.AmountUsd,
					ev.LiquidationEventId, r.Key, w.Amount, usd.Format(w.AmountUSD), link)
			}
		default:
			t.Fatalf("record with schema header %q", schema)
		}
	}
	if gotLiq != len(wantLiq) || gotDef != len(wantDef) {
		t.Fatalf("got %d liquidations and %d deficits, truth %d and %d", gotLiq, gotDef, len(wantLiq), len(wantDef))
	}
	t.Logf("%d liquidations with bonus and fee, %d deficits linked", gotLiq, gotDef)
}

func lowerHex(b []byte) string { return "0x" + hexEncode(b) }

func hexEncode(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 2*len(b))
	for i, c := range b {
		out[2*i], out[2*i+1] = digits[c>>4], digits[c&15]
	}
	return string(out)
}

func itoa(v uint) string { return strconv.FormatUint(uint64(v), 10) }
