package price

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/holiman/uint256"

	"github.com/liqstream/liqstream/services/ingest/rpc"
	"github.com/liqstream/liqstream/services/lib/usd"
)

func TestSelectors(t *testing.T) {
	for sig, sel := range map[string][4]byte{
		"getAssetPrice(address)":     SelGetAssetPrice,
		"getAssetsPrices(address[])": SelGetAssetsPrices,
		"BASE_CURRENCY_UNIT()":       SelBaseCurrencyUnit,
		"symbol()":                   SelSymbol,
		"decimals()":                 SelDecimals,
	} {
		if got := [4]byte(crypto.Keccak256([]byte(sig))[:4]); got != sel {
			t.Errorf("%s: selector %x, want %x", sig, sel, got)
		}
	}
}

var (
	oracle = common.HexToAddress("0x54586be62e3c3580375ae3723c145253060ca0c2")
	weth   = common.HexToAddress("0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2")
	usdc   = common.HexToAddress("0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48")
	mkr    = common.HexToAddress("0x9f8f72aa9304c8b593d555f12ef6589cc3a579a2")
)

type fakeChain struct {
	batches int
	calls   int
	base    int64 // 0: BASE_CURRENCY_UNIT reverts (V1/V2 oracle)
	prices  map[common.Address]int64
	ethUSD  int64  // Chainlink answer, 8 decimals
	pruned  uint64 // state below this block is missing ("missing trie node")
	head    uint64
}

func (f *fakeChain) Head(context.Context) (uint64, error) { return f.head, nil }

func word(v *big.Int) []byte { return common.LeftPadBytes(v.Bytes(), 32) }

func abiString(s string) []byte {
	out := append(word(big.NewInt(32)), word(big.NewInt(int64(len(s))))...)
	return append(out, common.RightPadBytes([]byte(s), (len(s)+31)/32*32)...)
}

func (f *fakeChain) CallBatch(_ context.Context, calls []rpc.Call) ([]rpc.CallResult, error) {
	f.batches++
	for _, c := range calls {
		if c.Block < f.pruned {
			return nil, fmt.Errorf("%w: eth_call at block %d: missing trie node", rpc.ErrBlockNotFound, c.Block)
		}
	}
	out := make([]rpc.CallResult, len(calls))
	for i, c := range calls {
		f.calls++
		sel := [4]byte(c.Data[:4])
		switch {
		case sel == SelBaseCurrencyUnit && f.base == 0:
			out[i].Err = errors.New("execution reverted")
		case sel == SelBaseCurrencyUnit:
			out[i].Data = word(big.NewInt(f.base))
		case sel == SelGetAssetPrice:
			out[i].Data = word(big.NewInt(f.prices[common.BytesToAddress(c.Data[4:36])]))
		case sel == SelLatestRoundData:
			out[i].Data = append(append(word(big.NewInt(7)), word(big.NewInt(f.ethUSD+int64(c.Block)))...), make([]byte, 96)...)
		case sel == SelGetReserveConfigurationData:
			d := make([]byte, 10*32)
			copy(d[3*32:], word(big.NewInt(10500)))
			out[i].Data = d
		case sel == SelGetLiquidationProtocolFee:
			out[i].Data = word(big.NewInt(1000))
		case sel == SelGetAssetsPrices:
			n := len(c.Data[4+64:]) / 32
			d := append(word(big.NewInt(32)), word(big.NewInt(int64(n)))...)
			for k := 0; k < n; k++ {
				a := common.BytesToAddress(c.Data[4+64+32*k : 4+64+32*(k+1)])
				d = append(d, word(big.NewInt(f.prices[a]+int64(c.Block)))...)
			}
			out[i].Data = d
		case sel == SelSymbol && c.To == mkr:
			out[i].Data = common.RightPadBytes([]byte("MKR"), 32)
		case sel == SelSymbol && c.To == weth:
			out[i].Data = abiString("WETH")
		case sel == SelSymbol && c.To == usdc:
			out[i].Data = abiString("USDC")
		case sel == SelDecimals && c.To == usdc:
			out[i].Data = word(big.NewInt(6))
		case sel == SelDecimals && (c.To == weth || c.To == mkr):
			out[i].Data = word(big.NewInt(18))
		default:
			out[i].Err = errors.New("execution reverted")
		}
	}
	return out, nil
}

func newFake() *fakeChain {
	return &fakeChain{base: 1e8, prices: map[common.Address]int64{weth: 3000_00000000, usdc: 1_00000000, mkr: 1500_00000000}}
}

func TestTokensCachedAndBytes32Symbol(t *testing.T) {
	f := newFake()
	p, err := New(Config{Chain: "ethereum", Oracle: oracle}, nil, f)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	bad := common.HexToAddress("0x01")
	toks, errs, err := p.Tokens(ctx, 10, []common.Address{weth, usdc, mkr, weth, bad})
	if err != nil {
		t.Fatal(err)
	}
	if toks[mkr].Symbol != "MKR" || toks[weth].Symbol != "WETH" || toks[usdc].Decimals != 6 {
		t.Fatalf("tokens = %+v", toks)
	}
	if !errors.Is(errs[bad], ErrBadToken) {
		t.Fatalf("bad token err = %v", errs[bad])
	}
	if f.batches != 1 || f.calls != 8 {
		t.Fatalf("batches %d calls %d, want 1 batch of 8", f.batches, f.calls)
	}
	if _, _, err := p.Tokens(ctx, 11, []common.Address{weth, usdc, mkr}); err != nil || f.batches != 1 {
		t.Fatalf("cached tokens refetched: batches %d err %v", f.batches, err)
	}
}

func TestPricesOneCallPerBlockCached(t *testing.T) {
	f := newFake()
	p, _ := New(Config{Chain: "ethereum", Oracle: oracle}, nil, f)
	ctx := context.Background()
	if err := p.CheckBase(ctx, 1); err != nil {
		t.Fatal(err)
	}
	reqs := []Request{{Block: 100, Assets: []common.Address{weth, usdc}}, {Block: 101, Assets: []common.Address{usdc, weth, weth}}}
	got, errs, err := p.Prices(ctx, reqs)
	if err != nil || errs[0] != nil || errs[1] != nil {
		t.Fatal(err, errs)
	}
	if got[0].Prices[weth].Int64() != 3000_00000000+100 || got[1].Prices[usdc].Int64() != 1_00000000+101 || got[0].Latest || got[0].Block != 100 {
		t.Fatalf("prices = %v", got)
	}
	if f.batches != 2 || f.calls != 3 { // base + one batch of two getAssetsPrices
		t.Fatalf("batches %d calls %d", f.batches, f.calls)
	}
	if _, _, err := p.Prices(ctx, []Request{{Block: 101, Assets: []common.Address{weth, usdc}}}); err != nil || f.batches != 2 {
		t.Fatalf("cached price refetched: batches %d", f.batches)
	}
}

func TestCheckBaseRejectsNonUSD(t *testing.T) {
	f := newFake()
	f.base = 1e18 // an ETH-based oracle, as Aave V2 Ethereum
	p, _ := New(Config{Chain: "ethereum", Oracle: oracle}, nil, f)
	if err := p.CheckBase(context.Background(), 1); !errors.Is(err, ErrUnsupportedBase) {
		t.Fatalf("err = %v", err)
	}
}

func TestValue(t *testing.T) {
	// 30.660134 USDC at $0.99990000 → $30.65706798 (truncated).
	got := Value(uint256.NewInt(30660134), big.NewInt(99990000), 6)
	if s := usd.Format(got); s != "30.65706798" {
		t.Fatalf("Value = %s", s)
	}
}

func TestDecodeSymbol(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string
		ok   bool
	}{
		{"string", abiString("USDC"), "USDC", true},
		{"bytes32", common.RightPadBytes([]byte("MKR"), 32), "MKR", true},
		{"empty", nil, "", false},
		{"bad offset", append(word(big.NewInt(4096)), word(big.NewInt(1))...), "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := DecodeSymbol(tc.in)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("DecodeSymbol = %q %v", got, ok)
			}
		})
	}
}

func TestETHBaseDetectedAndConverted(t *testing.T) {
	feed := common.HexToAddress("0x5f4ec3df9cbd43714fe2740f5e3616155c5b8419")
	tests := []struct {
		name    string
		base    int64
		wethE   int64
		feed    common.Address
		wantErr error
		wantUSD int64 // USDC price at block 100
	}{
		// V2 Ethereum: no BASE_CURRENCY_UNIT, WETH = 1e18 wei; USDC at 0.0005 ETH
		// with ETH at $2000 (+100 from the fake's per-block drift) is $1.00005.
		{"eth base by WETH probe", 0, 1e18, feed, nil, 1_00000000}, // 5e14 × 200000000100 / 1e18, truncated
		{"eth base without feed", 0, 1e18, common.Address{}, ErrUnsupportedBase, 0},
		{"usd base without unit", 0, 3000_00000000, feed, nil, 1_00000000 + 100},
		{"garbage WETH price", 0, 7, feed, ErrUnsupportedBase, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeChain{base: tt.base, ethUSD: 2000_00000000, prices: map[common.Address]int64{weth: tt.wethE, usdc: 1_00000000}}
			if tt.wethE == 1e18 {
				f.prices[usdc] = 5e14 - 100 // the fake adds the block number
			}
			p, _ := New(Config{Chain: "ethereum", Oracle: oracle, WETH: weth, ETHUSDFeed: tt.feed}, nil, f)
			err := p.CheckBase(context.Background(), 1)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("CheckBase = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			q, errs, err := p.Prices(context.Background(), []Request{{Block: 100, Assets: []common.Address{usdc}}})
			if err != nil || errs[0] != nil {
				t.Fatal(err, errs)
			}
			if got := q[0].Prices[usdc].Int64(); got != tt.wantUSD {
				t.Fatalf("USDC = %d, want %d", got, tt.wantUSD)
			}
		})
	}
}

func TestPricesFallBackToLatestWhenStateIsMissing(t *testing.T) {
	f := newFake()
	f.pruned, f.head = 150, 900
	p, _ := New(Config{Chain: "ethereum", Oracle: oracle}, nil, f)
	q, errs, err := p.Prices(context.Background(), []Request{{Block: 100, Assets: []common.Address{weth}}, {Block: 200, Assets: []common.Address{weth}}})
	if err != nil || errs[0] != nil || errs[1] != nil {
		t.Fatal(err, errs)
	}
	if !q[0].Latest || q[0].Block != 900 || q[0].Prices[weth].Int64() != 3000_00000000+900 {
		t.Fatalf("pruned block: %+v", q[0])
	}
	if q[1].Latest || q[1].Block != 200 || q[1].Prices[weth].Int64() != 3000_00000000+200 {
		t.Fatalf("served block: %+v", q[1])
	}
}

func TestReservesAndSplit(t *testing.T) {
	f := newFake()
	dp := common.HexToAddress("0x0a16f2fcc0d44fae41cc54e079281d84a363becd")
	p, _ := New(Config{Chain: "ethereum", Oracle: oracle, DataProvider: dp}, nil, f)
	rss, errs, err := p.Reserves(context.Background(), []Request{{Block: 10, Assets: []common.Address{weth, weth}}}, true)
	if err != nil || len(errs[0]) != 0 {
		t.Fatal(err, errs)
	}
	rs := rss[0]
	if rs[weth] != (Reserve{LiquidationBonus: 10500, ProtocolFee: 1000}) {
		t.Fatalf("reserve = %+v", rs[weth])
	}
	// Aave's forward math on seized = 1,050,000: bonusCollateral = 1,050,000 −
	// 1,000,000 = 50,000; fee = 5,000; received = 1,045,000; bonus 45,000.
	fee, bonus := Split(big.NewInt(1_045_000), rs[weth])
	if fee.Int64() != 5_000 || bonus.Int64() != 45_000 {
		t.Fatalf("Split = fee %s bonus %s", fee, bonus)
	}
	fee, bonus = Split(big.NewInt(1_050_000), Reserve{LiquidationBonus: 10500})
	if fee.Sign() != 0 || bonus.Int64() != 50_000 {
		t.Fatalf("Split without fee = fee %s bonus %s", fee, bonus)
	}
	if _, errs, _ := (&Pricer{cfg: Config{Chain: "x"}}).Reserves(context.Background(), []Request{{Block: 1, Assets: []common.Address{weth}}}, true); !errors.Is(errs[0][weth], ErrNoReserve) {
		t.Fatalf("no data provider: %v", errs[0][weth])
	}
}

// TestForgetRereadsReorgedBlocks: after Forget(from), prices and reserves of
// blocks >= from are read again (the canonical chain's state), those below
// stay cached.
func TestForgetRereadsReorgedBlocks(t *testing.T) {
	f := newFake()
	p, _ := New(Config{Chain: "ethereum", Oracle: oracle, DataProvider: common.HexToAddress("0xd0")}, nil, f)
	ctx := context.Background()
	if err := p.CheckBase(ctx, 1); err != nil {
		t.Fatal(err)
	}
	reqs := []Request{{Block: 100, Assets: []common.Address{weth}}, {Block: 200, Assets: []common.Address{weth}}}
	if _, _, err := p.Prices(ctx, reqs); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.Reserves(ctx, reqs, false); err != nil {
		t.Fatal(err)
	}
	f.prices[weth] += 7 // the new branch's oracle answers differ
	p.Forget(150)
	calls := f.calls
	got, _, err := p.Prices(ctx, reqs)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Prices[weth].Int64() != 3000_00000000+100 {
		t.Errorf("block 100 (below the fork) = %s, want the cached price", got[0].Prices[weth])
	}
	if got[1].Prices[weth].Int64() != 3000_00000000+7+200 {
		t.Errorf("block 200 (reorged) = %s, want the re-read price", got[1].Prices[weth])
	}
	if _, _, err := p.Reserves(ctx, reqs, false); err != nil {
		t.Fatal(err)
	}
	if n := f.calls - calls; n != 2 { // one getAssetsPrices and one reserve call, both at block 200
		t.Errorf("%d calls after Forget(150), want 2 (block 200 only)", n)
	}
}
