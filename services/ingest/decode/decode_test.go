package decode

import (
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
)

// realLog is a LiquidationCall log copied verbatim from an Ethereum mainnet
// transaction receipt, with the values a block explorer shows for it.
type realLog struct {
	name   string
	source string
	tx     string
	topics []string
	data   string
	want   want
}

type want struct {
	collateral, debt, borrower, liquidator string
	debtToCover, collateralAmount          string
	receiveAToken                          bool
}

// realLogs come from eth_getTransactionReceipt responses recorded by rotki's
// test cassettes (github.com/rotki/test-caching); the transactions are public
// on Ethereum mainnet and can be checked on any explorer.
var realLogs = []realLog{
	{
		// Aave V3 Ethereum pool 0x87870bca3f3fd6335c3f4ce8392d69350b4fa4e2,
		// block 17938283 (0x111b76b), log index 255: WETH collateral, USDC debt.
		name:   "aave-v3-ethereum",
		source: "rotki/test-caching cassettes/unit/decoders/test_aave_v3/test_aave_v3_liquidation[ethereum_accounts0].yaml",
		tx:     "0xc1a03e87f1c0446ddd5a77f7eb906831c72618a921a1f6f9f430f612edca0531",
		topics: []string{
			"0xe413a321e8681d831f4dbccbca790d2952b56f977908e45be37335533e005286",
			"0x000000000000000000000000c02aaa39b223fe8d0a0e5c4f27ead9083c756cc2",
			"0x000000000000000000000000a0b86991c6218b36c1d19d4a2e9eb0ce3606eb48",
			"0x0000000000000000000000007420fa58ba44e1141d5e9adb6903be549f7ce0b5",
		},
		data: "0x0000000000000000000000000000000000000000000000000000000001d3d626" +
			"00000000000000000000000000000000000000000000000000431e03dce7aae8" +
			"000000000000000000000000594efbe5a71a10a958d812b4c65f3dfa60922a15" +
			"0000000000000000000000000000000000000000000000000000000000000000",
		want: want{
			collateral: "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2",
			debt:       "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48",
			borrower:   "0x7420fa58ba44e1141d5e9adb6903be549f7ce0b5",
			liquidator: "0x594efbe5a71a10a958d812b4c65f3dfa60922a15",
			// 30.660134 USDC repaid for 0.018891825379519208 WETH, the amount the
			// same receipt shows WETH transferring to the liquidator (log index 249).
			debtToCover: "30660134", collateralAmount: "18891825379519208",
		},
	},
	{
		// Aave V2 Ethereum pool 0x7d2768de32b0b80b7a3454c06bdac94a69ddc7a9,
		// block 17313211 (0x1082dbb), log index 14: WETH against WETH. V2
		// emits the same event layout as V3.
		name:   "aave-v2-ethereum",
		source: "rotki/test-caching cassettes/unit/decoders/test_aave_v2/test_aave_v2_liquidation[ethereum_accounts0].yaml",
		tx:     "0x2077a54ecae4a06c553f96c120acc0237887fdd1fc2596aab103f6681712974d",
		topics: []string{
			"0xe413a321e8681d831f4dbccbca790d2952b56f977908e45be37335533e005286",
			"0x000000000000000000000000c02aaa39b223fe8d0a0e5c4f27ead9083c756cc2",
			"0x000000000000000000000000c02aaa39b223fe8d0a0e5c4f27ead9083c756cc2",
			"0x0000000000000000000000001db64086b4cda94884e4fc296799a512dfc564ca",
		},
		data: "0x0000000000000000000000000000000000000000000000000ca4142228cafe48" +
			"0000000000000000000000000000000000000000000000000d45e1f0aad52498" +
			"000000000000000000000000b6569481dccddd527c2b0e8ba32f494e52224ca1" +
			"0000000000000000000000000000000000000000000000000000000000000000",
		want: want{
			collateral: "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2",
			debt:       "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2",
			borrower:   "0x1db64086b4cda94884e4fc296799a512dfc564ca",
			liquidator: "0xb6569481dccddd527c2b0e8ba32f494e52224ca1",
			// rotki decodes 0.910875161581518408 WETH repaid and
			// 0.956418919660594328 aWETH seized for this transaction.
			debtToCover: "910875161581518408", collateralAmount: "956418919660594328",
		},
	},
}

func (r realLog) parse(t testing.TB) ([]common.Hash, []byte) {
	t.Helper()
	hs := make([]common.Hash, len(r.topics))
	for i, s := range r.topics {
		hs[i] = common.HexToHash(s)
	}
	return hs, hexutil.MustDecode(r.data)
}

func TestDecodeRealMainnetLogs(t *testing.T) {
	for _, r := range realLogs {
		t.Run(r.name, func(t *testing.T) {
			topics, data := r.parse(t)
			var got LiquidationCall
			if err := Decode(topics, data, &got); err != nil {
				t.Fatalf("tx %s (%s): %v", r.tx, r.source, err)
			}
			check := func(field, got, want string) {
				t.Helper()
				if got != want {
					t.Errorf("tx %s %s = %s, want %s", r.tx, field, got, want)
				}
			}
			check("collateral", strings.ToLower(got.Collateral.Hex()), r.want.collateral)
			check("debt", strings.ToLower(got.Debt.Hex()), r.want.debt)
			check("borrower", strings.ToLower(got.Borrower.Hex()), r.want.borrower)
			check("liquidator", strings.ToLower(got.Liquidator.Hex()), r.want.liquidator)
			check("debtToCover", got.DebtToCover.Dec(), r.want.debtToCover)
			check("liquidatedCollateral", got.LiquidatedCollateral.Dec(), r.want.collateralAmount)
			if got.ReceiveAToken != r.want.receiveAToken {
				t.Errorf("receiveAToken = %v", got.ReceiveAToken)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	base, data := realLogs[0].parse(t)
	tests := []struct {
		name   string
		mutate func(ts []common.Hash, d []byte) ([]common.Hash, []byte)
		want   error
		reason string
	}{
		{"no topics", func(_ []common.Hash, d []byte) ([]common.Hash, []byte) { return nil, d }, ErrTopicCount, "topic_count"},
		{"unknown topic0", func(ts []common.Hash, d []byte) ([]common.Hash, []byte) { ts[0][0] ^= 1; return ts, d }, ErrUnknownTopic0, "unknown_topic0"},
		{"three topics", func(ts []common.Hash, d []byte) ([]common.Hash, []byte) { return ts[:3], d }, ErrTopicCount, "topic_count"},
		{"five topics", func(ts []common.Hash, d []byte) ([]common.Hash, []byte) { return append(ts, ts[1]), d }, ErrTopicCount, "topic_count"},
		{"short data", func(ts []common.Hash, d []byte) ([]common.Hash, []byte) { return ts, d[:127] }, ErrShortData, "short_data"},
		{"empty data", func(ts []common.Hash, _ []byte) ([]common.Hash, []byte) { return ts, nil }, ErrShortData, "short_data"},
		{"oversized data", func(ts []common.Hash, d []byte) ([]common.Hash, []byte) { return ts, append(d, 0) }, ErrLongData, "long_data"},
		{"dirty collateral", func(ts []common.Hash, d []byte) ([]common.Hash, []byte) { ts[1][0] = 1; return ts, d }, ErrNonCanonicalAddress, "non_canonical_address"},
		{"dirty debt", func(ts []common.Hash, d []byte) ([]common.Hash, []byte) { ts[2][11] = 1; return ts, d }, ErrNonCanonicalAddress, "non_canonical_address"},
		{"dirty borrower", func(ts []common.Hash, d []byte) ([]common.Hash, []byte) { ts[3][5] = 0xff; return ts, d }, ErrNonCanonicalAddress, "non_canonical_address"},
		{"dirty liquidator", func(ts []common.Hash, d []byte) ([]common.Hash, []byte) { d[64] = 1; return ts, d }, ErrNonCanonicalAddress, "non_canonical_address"},
		{"bool 2", func(ts []common.Hash, d []byte) ([]common.Hash, []byte) { d[127] = 2; return ts, d }, ErrNonCanonicalBool, "non_canonical_bool"},
		{"bool high byte", func(ts []common.Hash, d []byte) ([]common.Hash, []byte) { d[96] = 1; return ts, d }, ErrNonCanonicalBool, "non_canonical_bool"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts, d := tc.mutate(append([]common.Hash(nil), base...), append([]byte(nil), data...))
			var out LiquidationCall
			err := Decode(ts, d, &out)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var de *Error
			if !errors.As(err, &de) || de.Field == "" {
				t.Fatalf("err %v is not a *Error with a field", err)
			}
			if got := Reason(err); got != tc.reason {
				t.Fatalf("Reason = %q, want %q", got, tc.reason)
			}
		})
	}
}

func TestDecodeTrueBoolAndRemoved(t *testing.T) {
	topics, data := realLogs[0].parse(t)
	data[127] = 1
	var out LiquidationCall
	if err := Decode(topics, data, &out); err != nil || !out.ReceiveAToken {
		t.Fatalf("receiveAToken=1: err %v, got %v", err, out.ReceiveAToken)
	}
	l := &types.Log{Topics: topics, Data: data, Removed: true}
	if err := DecodeLog(l, &out); !errors.Is(err, ErrRemoved) || Reason(err) != "removed" {
		t.Fatalf("removed log: err = %v", err)
	}
}

const eventABI = `[{"anonymous":false,"inputs":[
{"indexed":true,"name":"collateralAsset","type":"address"},
{"indexed":true,"name":"debtAsset","type":"address"},
{"indexed":true,"name":"user","type":"address"},
{"indexed":false,"name":"debtToCover","type":"uint256"},
{"indexed":false,"name":"liquidatedCollateralAmount","type":"uint256"},
{"indexed":false,"name":"liquidator","type":"address"},
{"indexed":false,"name":"receiveAToken","type":"bool"}],
"name":"LiquidationCall","type":"event"}]`

// gethDecode is the reference decoder: go-ethereum's abi package.
type gethDecoder struct{ ev abi.Event }

func newGethDecoder(t testing.TB) gethDecoder {
	t.Helper()
	a, err := abi.JSON(strings.NewReader(eventABI))
	if err != nil {
		t.Fatal(err)
	}
	ev := a.Events["LiquidationCall"]
	if ev.ID != TopicLiquidationCall {
		t.Fatalf("abi topic %s != %s", ev.ID, TopicLiquidationCall)
	}
	return gethDecoder{ev: ev}
}

func (g gethDecoder) decode(topics []common.Hash, data []byte) (map[string]any, error) {
	m := map[string]any{}
	if err := g.ev.Inputs.UnpackIntoMap(m, data); err != nil {
		return nil, err
	}
	var indexed abi.Arguments
	for _, in := range g.ev.Inputs {
		if in.Indexed {
			indexed = append(indexed, in)
		}
	}
	if err := abi.ParseTopicsIntoMap(m, indexed, topics[1:]); err != nil {
		return nil, err
	}
	return m, nil
}

// same reports whether our decoding equals go-ethereum's.
func same(t testing.TB, got *LiquidationCall, m map[string]any) {
	t.Helper()
	eq := func(name string, a, b any) {
		t.Helper()
		if a != b {
			t.Fatalf("%s: ours %v, geth %v", name, a, b)
		}
	}
	eq("collateralAsset", got.Collateral, m["collateralAsset"].(common.Address))
	eq("debtAsset", got.Debt, m["debtAsset"].(common.Address))
	eq("user", got.Borrower, m["user"].(common.Address))
	eq("liquidator", got.Liquidator, m["liquidator"].(common.Address))
	eq("receiveAToken", got.ReceiveAToken, m["receiveAToken"].(bool))
	if got.DebtToCover.ToBig().Cmp(m["debtToCover"].(*big.Int)) != 0 {
		t.Fatalf("debtToCover: ours %s, geth %s", got.DebtToCover.Dec(), m["debtToCover"])
	}
	if got.LiquidatedCollateral.ToBig().Cmp(m["liquidatedCollateralAmount"].(*big.Int)) != 0 {
		t.Fatalf("liquidatedCollateralAmount: ours %s, geth %s", got.LiquidatedCollateral.Dec(), m["liquidatedCollateralAmount"])
	}
}

func TestDecodeMatchesGethABI(t *testing.T) {
	g := newGethDecoder(t)
	for _, r := range realLogs {
		topics, data := r.parse(t)
		var got LiquidationCall
		if err := Decode(topics, data, &got); err != nil {
			t.Fatal(err)
		}
		m, err := g.decode(topics, data)
		if err != nil {
			t.Fatal(err)
		}
		same(t, &got, m)
	}
}

func TestDecodeAllocs(t *testing.T) {
	topics, data := realLogs[0].parse(t)
	var out LiquidationCall
	if n := testing.AllocsPerRun(1000, func() { _ = Decode(topics, data, &out) }); n != 0 {
		t.Fatalf("Decode allocates %v times per call", n)
	}
	data[127] = 7
	if n := testing.AllocsPerRun(1000, func() { _ = Decode(topics, data, &out) }); n != 0 {
		t.Fatalf("Decode allocates %v times per failing call", n)
	}
}

// FuzzDecode checks, for any input, that Decode does not panic and agrees with
// go-ethereum: whatever Decode accepts, geth decodes to the same values, and
// whatever geth rejects, Decode rejects too. (Decode is stricter than geth on
// address padding, so the converse does not hold.) Inputs are four topics
// packed into 128 bytes plus the data; ntopics picks how many are used.
func FuzzDecode(f *testing.F) {
	for _, r := range realLogs {
		topics, data := r.parse(f)
		var packed []byte
		for _, h := range topics {
			packed = append(packed, h[:]...)
		}
		f.Add(packed, data, uint8(4))
		f.Add(packed, data[:100], uint8(4))
		f.Add(packed, data, uint8(3))
		bad := append([]byte(nil), data...)
		bad[127] = 2
		f.Add(packed, bad, uint8(4))
	}
	g := newGethDecoder(f)
	f.Fuzz(func(t *testing.T, packed, data []byte, ntopics uint8) {
		n := int(ntopics % 6)
		topics := make([]common.Hash, n)
		for i := range topics {
			if len(packed) >= (i+1)*32 {
				copy(topics[i][:], packed[i*32:(i+1)*32])
			}
		}
		if n > 0 && len(packed) < 32 {
			topics[0] = TopicLiquidationCall // keep most inputs on the interesting path
		}
		var got LiquidationCall
		err := Decode(topics, data, &got)
		if err == nil {
			if n != 4 || len(data) != dataLen {
				t.Fatalf("accepted %d topics and %d bytes", n, len(data))
			}
			m, gerr := g.decode(topics, data)
			if gerr != nil {
				t.Fatalf("ours accepted, geth rejected: %v", gerr)
			}
			same(t, &got, m)
			return
		}
		if Reason(err) == "other" {
			t.Fatalf("unclassified error %v", err)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	topics, data := realLogs[0].parse(b)
	var out LiquidationCall
	b.ReportAllocs()
	for b.Loop() {
		if err := Decode(topics, data, &out); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeGethABI(b *testing.B) {
	topics, data := realLogs[0].parse(b)
	g := newGethDecoder(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.decode(topics, data); err != nil {
			b.Fatal(err)
		}
	}
}
