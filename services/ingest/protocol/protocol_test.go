package protocol

import (
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/liqstream/liqstream/services/ingest/decode"
	"github.com/liqstream/liqstream/services/lib/chains"
)

func word(v *big.Int) []byte { return common.LeftPadBytes(v.Bytes(), 32) }

func addrTopic(a common.Address) common.Hash { return common.BytesToHash(a.Bytes()) }

var (
	v3Pool   = common.HexToAddress("0x87870bca3f3fd6335c3f4ce8392d69350b4fa4e2")
	usdc     = common.HexToAddress("0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48")
	weth     = common.HexToAddress("0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2")
	borrower = common.HexToAddress("0x7420fa58ba44e1141d5e9adb6903be549f7ce0b5")
	tx       = common.HexToHash("0xc1a03e87f1c0446ddd5a77f7eb906831c72618a921a1f6f9f430f612edca0531")
)

func liqLog(debt *big.Int, idx uint) types.Log {
	data := append(word(debt), word(big.NewInt(18891825379519208))...)
	data = append(data, word(new(big.Int).SetBytes(common.HexToAddress("0x594efbe5a71a10a958d812b4c65f3dfa60922a15").Bytes()))...)
	data = append(data, word(big.NewInt(0))...)
	return types.Log{Address: v3Pool, Topics: []common.Hash{decode.TopicLiquidationCall, addrTopic(weth), addrTopic(usdc), addrTopic(borrower)},
		Data: data, TxHash: tx, Index: idx, BlockNumber: 17938283}
}

func defLog(idx uint) types.Log {
	return types.Log{Address: v3Pool, Topics: []common.Hash{decode.TopicDeficitCreated, addrTopic(borrower), addrTopic(usdc)},
		Data: word(big.NewInt(1000)), TxHash: tx, Index: idx, BlockNumber: 17938283}
}

func ethereumSet(t *testing.T) *Set {
	t.Helper()
	var ms []Market
	for _, m := range chains.Default().Markets(1, "") {
		pm, err := FromRegistry(m)
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, pm)
	}
	s, err := NewSet(ms)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestEveryRegistryMarketHasAnAdapter(t *testing.T) {
	for _, ch := range chains.Default().Chains() {
		for _, m := range chains.Default().Markets(ch.ID, "") {
			if _, err := FromRegistry(m); err != nil {
				t.Errorf("%s: %v", m.Name, err)
			}
		}
	}
	if m, ok := ethereumSet(t).Lookup(common.HexToAddress("0xC13e21B648A5Ee794902342038FF3aDAB66BE987")); !ok || m.Adapter.Name() != "spark" {
		t.Fatalf("Spark pool not attributed to spark: %+v", m)
	}
}

func TestDecodeErrors(t *testing.T) {
	s := ethereumSet(t)
	huge := new(big.Int).Lsh(big.NewInt(1), 201)
	tests := []struct {
		name   string
		log    func() types.Log
		reason string
	}{
		{"wrong topic count", func() types.Log { l := liqLog(big.NewInt(1), 1); l.Topics = l.Topics[:3]; return l }, "topic_count"},
		{"short data", func() types.Log { l := liqLog(big.NewInt(1), 1); l.Data = l.Data[:100]; return l }, "short_data"},
		{"oversized data", func() types.Log { l := liqLog(big.NewInt(1), 1); l.Data = append(l.Data, 0); return l }, "long_data"},
		{"unknown topic0", func() types.Log { l := liqLog(big.NewInt(1), 1); l.Topics[0] = common.Hash{1}; return l }, "unknown_topic0"},
		{"unknown topic0, unknown emitter", func() types.Log {
			l := liqLog(big.NewInt(1), 1)
			l.Topics[0], l.Address = common.Hash{1}, common.Address{9}
			return l
		}, "unknown_topic0"},
		{"removed", func() types.Log { l := liqLog(big.NewInt(1), 1); l.Removed = true; return l }, "removed"},
		{"absurd debt", func() types.Log { return liqLog(huge, 1) }, "absurd_amount"},
		{"absurd deficit", func() types.Log { l := defLog(1); l.Data = word(huge); return l }, "absurd_amount"},
		{"deficit from a V2 pool", func() types.Log {
			l := defLog(1)
			l.Address = common.HexToAddress("0x7d2768de32b0b80b7a3454c06bdac94a69ddc7a9")
			return l
		}, "unknown_topic0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := tt.log()
			_, err := s.Decode(&l)
			var de *decode.Error
			if !errors.As(err, &de) || decode.Reason(err) != tt.reason {
				t.Fatalf("err %v (reason %s), want *decode.Error with reason %s", err, decode.Reason(err), tt.reason)
			}
		})
	}
}

func TestLinkerLinksDeficitToFollowingLiquidation(t *testing.T) {
	s := ethereumSet(t)
	k := NewLinker(1)
	logs := []types.Log{liqLog(big.NewInt(5), 3), defLog(7), liqLog(big.NewInt(6), 8)}
	for i := range logs {
		d, err := s.Decode(&logs[i])
		if err != nil {
			t.Fatal(err)
		}
		if d.Kind == KindLiquidation {
			k.Liquidation(&logs[i], d.Liquidation.Borrower)
		}
	}
	if got, want := k.Deficit(&logs[1], borrower), EventID(1, tx, 8); got != want {
		t.Fatalf("linked to %s, want %s (Aave emits DeficitCreated before its LiquidationCall)", got, want)
	}
	if got := k.Deficit(&logs[1], common.Address{1}); got != "" {
		t.Fatalf("other borrower linked to %s", got)
	}
}
