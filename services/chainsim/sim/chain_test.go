package sim_test

import (
	"bytes"
	"context"
	"fmt"
	"math/big"
	"regexp"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/liqstream/liqstream/services/chainsim/sim"
)

func TestClock(t *testing.T) {
	s := sharedSim(t, 1, 0.1)
	jan1, _ := sim.DefaultWindow()
	tests := []struct {
		chain   uint64
		anchor  uint64
		blockMs int64
	}{
		{ethereumID, 24_130_000, 12_000},
		{polygonID, 81_000_000, 2_000},
		{avalancheID, 74_000_000, 1_500},
		{arbitrumID, 416_000_000, 250},
		{baseID, 40_300_000, 2_000},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.chain), func(t *testing.T) {
			if got := s.BlockAt(tt.chain, jan1); got != tt.anchor {
				t.Fatalf("BlockAt(jan1) = %d, want %d", got, tt.anchor)
			}
			if got := s.BlockTime(tt.chain, tt.anchor); !got.Equal(jan1) {
				t.Fatalf("BlockTime(anchor) = %s", got)
			}
			// BlockAt is the first block at or after t, for times between blocks too.
			for _, off := range []time.Duration{1, 999 * time.Millisecond, time.Second, 13 * time.Second, time.Hour, -time.Hour, 59 * 24 * time.Hour} {
				at := jan1.Add(off)
				n := s.BlockAt(tt.chain, at)
				if s.BlockTime(tt.chain, n).Before(at) || !s.BlockTime(tt.chain, n-1).Before(at) {
					t.Fatalf("BlockAt(%s) = %d: time %s, previous %s", at, n, s.BlockTime(tt.chain, n), s.BlockTime(tt.chain, n-1))
				}
			}
			prev := s.BlockTime(tt.chain, tt.anchor-1000)
			for n := tt.anchor - 999; n < tt.anchor+1000; n++ {
				cur := s.BlockTime(tt.chain, n)
				if cur.Before(prev) {
					t.Fatalf("timestamps not monotonic at %d", n)
				}
				prev = cur
			}
			days := float64(s.BlockAt(tt.chain, jan1.Add(59*24*time.Hour))-tt.anchor) * float64(tt.blockMs) / 1000 / 86400
			if days < 58.99 || days > 59.01 {
				t.Fatalf("window spans %.3f days of blocks", days)
			}
			if h := s.Head(tt.chain); h != s.BlockAt(tt.chain, jan1.Add(59*24*time.Hour))+sim.HeadMargin {
				t.Fatalf("default head %d", h)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	jan1, mar1 := sim.DefaultWindow()
	tests := []struct {
		name string
		cfg  sim.Config
	}{
		{"negative scale", sim.Config{Scale: -1}},
		{"to before from", sim.Config{From: mar1, To: jan1}},
		{"unknown chain", sim.Config{Chains: []uint64{10}}},
		{"duplicate chain", sim.Config{Chains: []uint64{1, 1}}},
		{"negative result cap", sim.Config{MaxLogResults: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := sim.New(tt.cfg); err == nil {
				t.Fatal("New succeeded")
			}
		})
	}
}

func TestCustomWindow(t *testing.T) {
	from := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	to := time.Date(2026, 1, 20, 0, 0, 0, 0, time.UTC)
	s := newSim(t, sim.Config{Seed: 5, Scale: 0.2, From: from, To: to, Chains: []uint64{polygonID, baseID}})
	if got := s.Chains(); len(got) != 2 || got[0] != polygonID || got[1] != baseID {
		t.Fatalf("Chains() = %v", got)
	}
	for _, id := range s.Chains() {
		days := s.Truth().Days(id)
		if len(days) != 10 || !days[0].Day.Equal(from.Truncate(24*time.Hour)) {
			t.Fatalf("chain %d: %d days starting %s", id, len(days), days[0].Day)
		}
		for _, ev := range s.Truth().Events(id) {
			if ev.BlockTime.Before(from) || !ev.BlockTime.Before(to) {
				t.Fatalf("chain %d: event at %s outside the window", id, ev.BlockTime)
			}
		}
		if w := s.Truth().Window(id, from, to); w.Events == 0 {
			t.Fatalf("chain %d: no events", id)
		}
	}
}

func TestPrices(t *testing.T) {
	s := sharedSim(t, 1, 0.1)
	weth := common.HexToAddress("0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2")
	wbtc := common.HexToAddress("0x2260FAC5E5542a773Aa44fBCfeDf7C193bc2C599")
	usdc := common.HexToAddress("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48")
	tests := []struct {
		name   string
		asset  common.Address
		at     time.Time
		lo, hi float64 // USD
	}{
		{"ETH on Jan 1", weth, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 3250, 3350},
		{"ETH on Feb 4", weth, time.Date(2026, 2, 4, 12, 0, 0, 0, time.UTC), 1900, 2100},
		{"BTC on Jan 1", wbtc, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 93000, 95000},
		{"BTC on Feb 5", wbtc, time.Date(2026, 2, 5, 0, 0, 0, 0, time.UTC), 61000, 64000},
		{"USDC on Feb 3", usdc, time.Date(2026, 2, 3, 7, 0, 0, 0, time.UTC), 0.998, 1.002},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ok := s.PriceE8(ethereumID, tt.asset, s.BlockAt(ethereumID, tt.at))
			if !ok {
				t.Fatal("no price")
			}
			if f, _ := new(big.Float).Quo(new(big.Float).SetInt(p), big.NewFloat(1e8)).Float64(); f < tt.lo || f > tt.hi {
				t.Fatalf("price %v, want in [%v, %v]", f, tt.lo, tt.hi)
			}
		})
	}
	// Prices move inside an hour (interpolation), but not by much between blocks.
	n := s.BlockAt(ethereumID, time.Date(2026, 1, 20, 0, 10, 0, 0, time.UTC))
	a, _ := s.PriceE8(ethereumID, weth, n)
	b, _ := s.PriceE8(ethereumID, weth, n+100)
	if a.Cmp(b) == 0 {
		t.Fatalf("price constant over 100 blocks: %s", a)
	}
}

// TestLogBlockTimestamp checks that logs carry blockTimestamp by default,
// as geth's types.Log decodes it, and that OmitLogBlockTimestamp drops the
// field and nothing else.
func TestLogBlockTimestamp(t *testing.T) {
	tests := []struct {
		name string
		omit bool
	}{
		{"default", false},
		{"omitted", true},
	}
	raw := map[bool][]byte{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSim(t, sim.Config{Seed: 9, Scale: 0.05, Chains: []uint64{avalancheID}, OmitLogBlockTimestamp: tt.omit})
			ec, _ := dial(t, serve(t, s)+"/avalanche")
			logs, err := ec.FilterLogs(context.Background(), ethereum.FilterQuery{FromBlock: big.NewInt(0)})
			if err != nil || len(logs) == 0 {
				t.Fatalf("%d logs, %v", len(logs), err)
			}
			for _, l := range logs {
				want := uint64(s.BlockTime(avalancheID, l.BlockNumber).Unix())
				if tt.omit {
					want = 0
				}
				if l.BlockTimestamp != want {
					t.Fatalf("log in block %d has blockTimestamp %d, want %d", l.BlockNumber, l.BlockTimestamp, want)
				}
			}
			body := post(t, s, "/avalanche", `{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"fromBlock":"0x0"}]}`)
			if n, want := bytes.Count(body, []byte(`"blockTimestamp":"0x`)), len(logs); tt.omit && n != 0 || !tt.omit && n != want {
				t.Fatalf("%d log objects with blockTimestamp, want %d of %d", n, map[bool]int{true: 0, false: want}[tt.omit], want)
			}
			raw[tt.omit] = body
		})
	}
	// Apart from the field, the answers are the same bytes.
	if with, without := raw[false], raw[true]; with != nil && without != nil {
		stripped := regexp.MustCompile(`,"blockTimestamp":"0x[0-9a-f]+"`).ReplaceAll(with, nil)
		if !bytes.Equal(stripped, without) {
			t.Fatalf("answers differ beyond blockTimestamp:\n%.300s\n%.300s", stripped, without)
		}
	}
}
