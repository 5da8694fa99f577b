package consume

import (
	"testing"
	"time"

	liqstreamv1 "github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/aggregator/internal/synth"
	"github.com/liqstream/liqstream/services/lib/testsupport"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// fullEvent sets every field of LiquidationEvent, nested ones included, to a
// value that is not the zero value.
func fullEvent() *liqstreamv1.LiquidationEvent {
	return &liqstreamv1.LiquidationEvent{
		ChainId: 137, Chain: "polygon", Protocol: "aave-v3", Market: "AaveV3Polygon", Pool: "0x794a61358d6845594f94dc1db02a252b5b4814ad",
		BlockNumber: 81_000_000, BlockHash: "0xbb", BlockTime: &timestamppb.Timestamp{Seconds: 1_767_225_600, Nanos: 5},
		TxHash: "0xaa", TxIndex: 7, LogIndex: 3,
		CollateralAsset: &liqstreamv1.Asset{Address: "0xc0", Symbol: "WETH", Decimals: 18},
		DebtAsset:       &liqstreamv1.Asset{Address: "0xd0", Symbol: "USDC", Decimals: 6},
		Borrower:        "0xb0", Liquidator: "0x10", DebtToCover: "1000000", LiquidatedCollateralAmount: "500000000000000000",
		ReceiveAToken:   true,
		CollateralPrice: &liqstreamv1.Price{Usd: "2450.5", Source: liqstreamv1.PriceSource_PRICE_SOURCE_ORACLE_AT_BLOCK, BlockNumber: 80_999_999},
		DebtPrice:       &liqstreamv1.Price{Usd: "1", Source: liqstreamv1.PriceSource_PRICE_SOURCE_ORACLE_AT_BLOCK, BlockNumber: 81_000_000},
		DebtUsd:         "1.00", CollateralUsd: "1225.25", BonusUsd: "61.26", ProtocolFeeAmount: "1000", ProtocolFeeUsd: "0.0000024505",
		EventId: "137:0xaa:3", Revision: 2, Status: liqstreamv1.Status_STATUS_RETRACTED, MethodVersion: "aave-v3/1",
		LogTopics: []string{"0xe4", "0x01", "0x02", "0x03"}, LogData: "0x00ff",
		ObservedAt: &timestamppb.Timestamp{Seconds: 1_767_225_660, Nanos: 999_999_999},
	}
}

func marshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkDecode requires decodeLiquidation to give what proto.Unmarshal gives
// for b: the same error or none, and an equal message (unknown fields
// included). It returns whether the fast path decoded b.
func checkDecode(t *testing.T, b []byte) bool {
	t.Helper()
	var want, got liqstreamv1.LiquidationEvent
	wantErr := proto.Unmarshal(b, &want)
	// A reused message must not keep fields of the event decoded before.
	got.Chain, got.LogTopics = "stale", []string{"stale"}
	gotErr := decodeLiquidation(b, &got)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("decodeLiquidation(%x) error %v, proto.Unmarshal error %v", b, gotErr, wantErr)
	}
	if wantErr == nil && !proto.Equal(&got, &want) {
		t.Fatalf("decodeLiquidation(%x)\n got %v\nwant %v", b, &got, &want)
	}
	var fast liqstreamv1.LiquidationEvent
	return decodeFast(b, &fast)
}

func TestDecodeLiquidation(t *testing.T) {
	full := marshal(t, fullEvent())
	// A field of a later schema, unknown here.
	unknown := protowire.AppendString(protowire.AppendTag(append([]byte(nil), full...), 40, protowire.BytesType), "x")
	// collateral_asset again: proto merges the two.
	twice := append(append([]byte(nil), full...),
		marshal(t, &liqstreamv1.LiquidationEvent{CollateralAsset: &liqstreamv1.Asset{Symbol: "stETH"}})...)
	wrongType := protowire.AppendVarint(protowire.AppendTag(nil, 2, protowire.VarintType), 7) // chain as a varint
	badUTF8 := protowire.AppendString(protowire.AppendTag(nil, 9, protowire.BytesType), "0x\xff")
	badNestedUTF8 := protowire.AppendBytes(protowire.AppendTag(nil, 12, protowire.BytesType),
		protowire.AppendString(protowire.AppendTag(nil, 2, protowire.BytesType), "\xc3"))
	bigEnum := protowire.AppendVarint(protowire.AppendTag(nil, 28, protowire.VarintType), 1<<40|2)
	emptyNested := protowire.AppendBytes(protowire.AppendTag(nil, 19, protowire.BytesType), nil)

	for _, tc := range []struct {
		name     string
		b        []byte
		wantFast bool
	}{
		{"every field set", full, true},
		{"empty", nil, true},
		{"empty nested message", emptyNested, true},
		{"enum past int32", bigEnum, true},
		{"last scalar wins", append(append([]byte(nil), full...), marshal(t, &liqstreamv1.LiquidationEvent{Chain: "base", Revision: 9})...), true},
		{"unknown field kept", unknown, false},
		{"nested message twice", twice, false},
		{"known field, other wire type", wrongType, false},
		{"invalid UTF-8", badUTF8, false},
		{"invalid UTF-8 in a nested message", badNestedUTF8, false},
		{"truncated", full[:len(full)-3], false},
		{"length past the end", []byte{0x12, 0x7f, 'a'}, false},
		{"overlong varint", []byte{0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, false},
		{"field number 0", []byte{0x00, 0x01}, false},
		{"group", []byte{0x0b, 0x0c}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if fast := checkDecode(t, tc.b); fast != tc.wantFast {
				t.Errorf("fast path taken = %v, want %v", fast, tc.wantFast)
			}
		})
	}
}

// TestDecodeLiquidationSynth decodes generated events (what the bench and the
// integration tests publish) and requires every one to take the fast path,
// so that a change to the message or the producer that silently sends every
// record to proto.Unmarshal fails here.
func TestDecodeLiquidationSynth(t *testing.T) {
	seed := testsupport.Seed(t)
	g := synth.New(seed)
	for i, ev := range g.Events(500, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 60*24*time.Hour) {
		if i%5 == 0 {
			ev = g.Revise(ev)
		}
		if !checkDecode(t, marshal(t, ev)) {
			t.Fatalf("event %d (seed %d) did not take the fast path: %v", i, seed, ev)
		}
	}
}

// FuzzDecodeLiquidation requires decodeLiquidation to agree with
// proto.Unmarshal on any bytes.
func FuzzDecodeLiquidation(f *testing.F) {
	f.Add(marshal(f, fullEvent()))
	for _, ev := range synth.New(1).Events(4, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Hour) {
		f.Add(marshal(f, ev))
	}
	f.Add([]byte{0x62, 0x03, 0x12, 0x01, 0xc3}) // debt_asset.symbol with invalid UTF-8
	f.Fuzz(func(t *testing.T, b []byte) { checkDecode(t, b) })
}

func BenchmarkDecodeLiquidation(b *testing.B) {
	evs := synth.New(1).Events(64, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Hour)
	recs := make([][]byte, len(evs))
	for i, ev := range evs {
		recs[i] = marshal(b, ev)
	}
	for _, impl := range []struct {
		name   string
		decode func([]byte, *liqstreamv1.LiquidationEvent) error
	}{
		{"fast", decodeLiquidation},
		{"proto.Unmarshal", func(b []byte, ev *liqstreamv1.LiquidationEvent) error { return proto.Unmarshal(b, ev) }},
	} {
		b.Run(impl.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				var ev liqstreamv1.LiquidationEvent
				if err := impl.decode(recs[i%len(recs)], &ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
