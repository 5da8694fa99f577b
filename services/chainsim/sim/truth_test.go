package sim_test

import (
	"bytes"
	"cmp"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/liqstream/liqstream/services/chainsim/sim"
	"github.com/liqstream/liqstream/services/lib/usd"
)

// TestEventsConsistent checks every generated event: ordering, indexes,
// assets, amounts and USD values.
func TestEventsConsistent(t *testing.T) {
	s := sharedSim(t, 1, 0.1)
	from, to := sim.DefaultWindow()
	for _, id := range s.Chains() {
		evs := s.Truth().Events(id)
		assets := map[common.Address]sim.Asset{}
		for _, a := range s.Assets(id) {
			assets[a.Address] = a
		}
		txOf := map[common.Hash][2]uint64{} // tx hash → block, tx index
		receive := 0
		for i, ev := range evs {
			if i > 0 {
				p := evs[i-1]
				if c := cmp.Or(cmp.Compare(p.BlockNumber, ev.BlockNumber), cmp.Compare(p.LogIndex, ev.LogIndex)); c >= 0 {
					t.Fatalf("chain %d: events %d and %d not strictly ordered by (block, logIndex)", id, i-1, i)
				}
				if p.BlockNumber == ev.BlockNumber && p.TxIndex > ev.TxIndex {
					t.Fatalf("chain %d: tx index decreases with log index in block %d", id, ev.BlockNumber)
				}
			}
			if prev, ok := txOf[ev.TxHash]; ok && prev != [2]uint64{ev.BlockNumber, uint64(ev.TxIndex)} {
				t.Fatalf("chain %d: tx %s in two places", id, ev.TxHash)
			}
			txOf[ev.TxHash] = [2]uint64{ev.BlockNumber, uint64(ev.TxIndex)}
			if ev.BlockTime.Before(from) || !ev.BlockTime.Before(to) || !ev.BlockTime.Equal(s.BlockTime(id, ev.BlockNumber)) {
				t.Fatalf("chain %d: event %d block time %s", id, i, ev.BlockTime)
			}
			if ev.BlockHash != s.BlockHash(id, ev.BlockNumber) || ev.Pool != s.Pool(id) || ev.ChainID != id {
				t.Fatalf("chain %d: event %d block hash, pool or chain id mismatch", id, i)
			}
			ca, cok := assets[ev.CollateralAsset]
			da, dok := assets[ev.DebtAsset]
			if !cok || !dok || ev.CollateralAsset == ev.DebtAsset {
				t.Fatalf("chain %d: event %d assets %s/%s", id, i, ev.CollateralAsset, ev.DebtAsset)
			}
			if ca.Decimals != ev.CollateralDecimals || da.Decimals != ev.DebtDecimals || ca.Symbol != ev.CollateralSymbol {
				t.Fatalf("chain %d: event %d token metadata mismatch", id, i)
			}
			cp, _ := s.PriceE8(id, ev.CollateralAsset, ev.BlockNumber)
			dp, _ := s.PriceE8(id, ev.DebtAsset, ev.BlockNumber)
			if cp.Cmp(ev.CollateralPriceE8) != 0 || dp.Cmp(ev.DebtPriceE8) != 0 {
				t.Fatalf("chain %d: event %d prices differ from the oracle", id, i)
			}
			if usd.Value(ev.DebtToCover, dp, da.Decimals).Cmp(ev.DebtUSD) != 0 ||
				usd.Value(ev.LiquidatedCollateralAmount, cp, ca.Decimals).Cmp(ev.CollateralUSD) != 0 {
				t.Fatalf("chain %d: event %d USD values differ from usd.Value", id, i)
			}
			if ev.DebtToCover.Sign() <= 0 || ev.CollateralUSD.Cmp(ev.DebtUSD) <= 0 {
				t.Fatalf("chain %d: event %d: debt %s, collateral USD %s <= debt USD %s", id, i, ev.DebtToCover, ev.CollateralUSD, ev.DebtUSD)
			}
			if ev.ReceiveAToken {
				receive++
			}
		}
		if receive*5 > len(evs) {
			t.Errorf("chain %d: receiveAToken true on %d of %d events, want mostly false", id, receive, len(evs))
		}
	}
}

// TestDaysAddUp checks that per-day sums equal the window for sums, and that
// distinct counts over the window do not exceed the sums of days.
func TestDaysAddUp(t *testing.T) {
	s := sharedSim(t, 3, 0.1)
	from, to := sim.DefaultWindow()
	for _, id := range s.Chains() {
		var ev, txs, bor uint64
		debt, coll := new(big.Int), new(big.Int)
		days := s.Truth().Days(id)
		for i, d := range days {
			if want := from.Add(time.Duration(i) * 24 * time.Hour); !d.Day.Equal(want) || d.ChainID != id {
				t.Fatalf("chain %d: day %d is %s, want %s", id, i, d.Day, want)
			}
			ev, txs, bor = ev+d.Events, txs+d.Txs, bor+d.Borrowers
			debt.Add(debt, d.DebtUSD)
			coll.Add(coll, d.CollateralUSD)
		}
		w := s.Truth().Window(id, from, to)
		if w.Events != ev || w.Txs != txs || w.DebtUSD.Cmp(debt) != 0 || w.CollateralUSD.Cmp(coll) != 0 {
			t.Errorf("chain %d: window %+v does not add up to days (events %d, txs %d, debt %s, coll %s)", id, w, ev, txs, debt, coll)
		}
		if w.Borrowers > bor || w.Borrowers == 0 {
			t.Errorf("chain %d: window borrowers %d, sum of daily distinct %d", id, w.Borrowers, bor)
		}
		jan := s.Truth().Window(id, from, time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC))
		if jan.Events == 0 || jan.Events >= w.Events {
			t.Errorf("chain %d: January %d events, window %d", id, jan.Events, w.Events)
		}
	}
}

func TestDeterminism(t *testing.T) {
	truthJSON := func(s *sim.Sim) []byte {
		var b bytes.Buffer
		if err := s.Truth().WriteJSON(&b); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	seed := testSeed(t)
	a := newSim(t, sim.Config{Seed: seed, Scale: 0.1})
	b := newSim(t, sim.Config{Seed: seed, Scale: 0.1})
	c := newSim(t, sim.Config{Seed: seed + 1, Scale: 0.1})
	ja, jb, jc := truthJSON(a), truthJSON(b), truthJSON(c)
	if !bytes.Equal(ja, jb) {
		t.Fatal("same seed, different truth")
	}
	if bytes.Equal(ja, jc) {
		t.Fatal("different seeds, same truth")
	}
	reqs := []string{
		`{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"fromBlock":"earliest","toBlock":"latest"}]}`,
		`[{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["0x1702b50",false]},{"jsonrpc":"2.0","id":2,"method":"eth_getBlockByNumber","params":["finalized",false]}]`,
		`{"jsonrpc":"2.0","id":"p","method":"eth_call","params":[{"to":"0x54586bE62E3c3580375aE3723C145253060Ca0C2","data":"0xb3596f07000000000000000000000000c02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"},"0x1702b50"]}`,
	}
	for _, req := range reqs {
		ra, rb, rc := post(t, a, "/ethereum", req), post(t, b, "/1", req), post(t, c, "/ethereum", req)
		if !bytes.Equal(ra, rb) {
			t.Errorf("same seed, different answers to %s", req)
		}
		if bytes.Equal(ra, rc) {
			t.Errorf("different seeds, same answer to %s", req)
		}
	}
}
