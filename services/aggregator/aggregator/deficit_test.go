package aggregator_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	liqstreamv1 "github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/aggregator/consume"
	"github.com/liqstream/liqstream/services/lib/topics"
)

// TestDeficitEventsReachBadDebt: DeficitEvent records on the topic are
// stored in bad_debt (highest revision, retractions excluded) and reach the
// daily rollup's bad-debt columns; an invalid one is dead-lettered.
func TestDeficitEventsReachBadDebt(t *testing.T) {
	cfg, conn, cl := fixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	at := time.Date(2026, 2, 3, 10, 0, 0, 0, time.UTC)
	deficit := func(id string, rev uint64, amountUSD string, status liqstreamv1.Status) *liqstreamv1.DeficitEvent {
		return &liqstreamv1.DeficitEvent{
			ChainId: 137, Chain: "polygon", Protocol: "aave-v3", Market: "AaveV3Polygon",
			Pool: "0x794a61358d6845594f94dc1db02a252b5b4814ad", BlockNumber: 82_000_000,
			BlockHash: "0x" + id + "b", BlockTime: timestamppb.New(at), TxHash: "0x" + id + "t", LogIndex: 3,
			Borrower:      "0x00000000000000000000000000000000000000b1",
			DebtAsset:     &liqstreamv1.Asset{Address: "0x3c499c542cef5e3811e1192ce70d8cc03d5c3359", Symbol: "USDC", Decimals: 6},
			AmountCreated: "1500000", DebtPrice: &liqstreamv1.Price{Usd: "1.00000000", Source: liqstreamv1.PriceSource_PRICE_SOURCE_ORACLE_AT_BLOCK, BlockNumber: 82_000_000},
			AmountUsd: amountUSD, EventId: "137:0x" + id + "t:3", Revision: rev, Status: status, MethodVersion: "aave-v3/1",
			LogTopics: []string{"0x2bccfb3fad376d59d7accf970515eb77b2f27b082c90ed0fb15583dd5a942699"}, ObservedAt: timestamppb.New(at),
		}
	}
	recs := []*liqstreamv1.DeficitEvent{
		deficit("aa", 1, "1.50000000", liqstreamv1.Status_STATUS_CONFIRMED),
		deficit("bb", 1, "2.25000000", liqstreamv1.Status_STATUS_CONFIRMED),
		deficit("bb", 1, "2.25000000", liqstreamv1.Status_STATUS_CONFIRMED), // replayed
		deficit("cc", 1, "7.00000000", liqstreamv1.Status_STATUS_CONFIRMED),
		deficit("cc", 2, "7.00000000", liqstreamv1.Status_STATUS_RETRACTED), // reorged out
	}
	invalid := deficit("dd", 1, "1.00000000", liqstreamv1.Status_STATUS_CONFIRMED)
	invalid.EventId = ""
	hdr := []kgo.RecordHeader{{Key: topics.HeaderSchema, Value: []byte(topics.SchemaDeficitEvent)}}
	var out []*kgo.Record
	for _, d := range append(recs, invalid) {
		b, err := proto.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, &kgo.Record{Topic: cfg.Kafka.Topic, Key: topics.Key(d.GetChainId(), d.GetBorrower()), Value: b, Headers: hdr})
	}
	out[len(out)-1].Key = []byte("invalid")
	if err := cl.ProduceSync(ctx, out...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	r := start(t, cfg)

	var rows uint64
	var total, rollup string
	deadline := time.Now().Add(40 * time.Second)
	for {
		err := conn.QueryRow(ctx, "SELECT count(), toString(sum(toFloat64(amount_usd))) FROM (SELECT * FROM bad_debt FINAL) WHERE status = 'CONFIRMED'").Scan(&rows, &total)
		if err == nil {
			err = conn.QueryRow(ctx, "SELECT toString(sum(toFloat64(bad_debt_usd))) FROM liquidations_daily FINAL WHERE chain_id = 137 AND day = toDate('2026-02-03')").Scan(&rollup)
		}
		if err == nil && rows == 2 && total == "3.75" && rollup == "3.75" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bad_debt holds %d confirmed rows totalling %s, daily rollup %s (err %v); want 2, 3.75, 3.75", rows, total, rollup, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	reasons := deadLettered(ctx, t, cfg, 1)
	if reasons["invalid"] != consume.ReasonInvalidEvent {
		t.Errorf("invalid DeficitEvent dead-letter reason = %q, want %s", reasons["invalid"], consume.ReasonInvalidEvent)
	}
	r.stop(t)
}
