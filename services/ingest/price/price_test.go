package price

import (
	"context"
	"errors"
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
	base    int64
	prices  map[common.Address]int64
}

func word(v *big.Int) []byte { return common.LeftPadBytes(v.Bytes(), 32) }

func abiString(s string) []byte {
	out := append(word(big.NewInt(32)), word(big.NewInt(int64(len(s))))...)
	return append(out, common.RightPadBytes([]byte(s), (len(s)+31)/32*32)...)
}

func (f *fakeChain) CallBatch(_ context.Context, calls []rpc.Call) ([]rpc.CallResult, error) {
	f.batches++
	out := make([]rpc.CallResult, len(calls))
	for i, c := range calls {
		f.calls++
		sel := [4]byte(c.Data[:4])
		switch {
		case sel == SelBaseCurrencyUnit:
			out[i].Data = word(big.NewInt(f.base))
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
	if got[0][weth].Int64() != 3000_00000000+100 || got[1][usdc].Int64() != 1_00000000+101 {
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
