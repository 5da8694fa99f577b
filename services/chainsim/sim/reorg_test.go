package sim_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/liqstream/liqstream/services/chainsim/sim"
)

// busyHead returns a head block whose last depth blocks hold the most
// liquidations of the chain (the first such window).
func busyHead(t testing.TB, s *sim.Sim, chainID, depth uint64) uint64 {
	t.Helper()
	evs := s.Truth().Events(chainID)
	best, head := 0, uint64(0)
	for i := range evs {
		j := i
		for j < len(evs) && evs[j].BlockNumber < evs[i].BlockNumber+depth {
			j++
		}
		if j-i > best {
			best, head = j-i, evs[i].BlockNumber+depth-1
		}
	}
	if best < 2 {
		t.Fatalf("no %d-block window with 2 liquidations on chain %d", depth, chainID)
	}
	return head
}

func TestReorg(t *testing.T) {
	const chainID, depth = 1, 64
	seed := testSeed(t)
	s := newSim(t, sim.Config{Seed: seed, Scale: 1, Chains: []uint64{chainID}})
	head := busyHead(t, s, chainID, depth)
	s.SetHead(chainID, head)
	fork := head - depth + 1
	before := s.Truth().Events(chainID)
	hashes := map[uint64]common.Hash{}
	for n := fork - 1; n <= head+1; n++ {
		hashes[n] = s.BlockHash(chainID, n)
	}
	res, err := s.Reorg(chainID, depth, 7)
	if err != nil {
		t.Fatalf("Reorg: %v", err)
	}
	if res.Fork != fork || res.Added == 0 {
		t.Fatalf("Reorg = %+v, want fork %d and added > 0", res, fork)
	}
	for n := fork - 1; n <= head+1; n++ {
		changed := s.BlockHash(chainID, n) != hashes[n]
		if want := n >= fork && n <= head; changed != want {
			t.Errorf("block %d: hash changed %v, want %v", n, changed, want)
		}
	}
	after := s.Truth().Events(chainID)
	outside := func(evs []sim.Event) []string {
		var out []string
		for _, ev := range evs {
			if ev.BlockNumber < fork || ev.BlockNumber > head {
				out = append(out, fmt.Sprint(ev.BlockNumber, ev.TxHash, ev.LogIndex, ev.DebtUSD))
			}
		}
		return out
	}
	if fmt.Sprint(outside(before)) != fmt.Sprint(outside(after)) {
		t.Errorf("events outside the reorged blocks changed")
	}
	// The served logs and headers are the new branch's.
	url := serve(t, s)
	var logs []struct {
		BlockNumber string      `json:"blockNumber"`
		BlockHash   common.Hash `json:"blockHash"`
		Topics      []common.Hash
	}
	rpcCall(t, url+"/1", "eth_getLogs", []any{map[string]any{"fromBlock": fmt.Sprintf("0x%x", fork), "toBlock": "latest",
		"topics": []any{sim.TopicLiquidationCall}}}, &logs)
	var inRange []sim.Event
	for _, ev := range after {
		if ev.BlockNumber >= fork && ev.BlockNumber <= head {
			inRange = append(inRange, ev)
		}
	}
	if len(logs) != len(inRange) {
		t.Fatalf("served %d liquidation logs in [%d, %d], truth has %d", len(logs), fork, head, len(inRange))
	}
	for i, l := range logs {
		if l.BlockHash != inRange[i].BlockHash || l.BlockHash != s.BlockHash(chainID, inRange[i].BlockNumber) {
			t.Errorf("log %d: block hash %s, truth %s", i, l.BlockHash, inRange[i].BlockHash)
		}
	}
	var hdr struct{ Hash, ParentHash common.Hash }
	rpcCall(t, url+"/1", "eth_getBlockByNumber", []any{fmt.Sprintf("0x%x", fork), false}, &hdr)
	if hdr.Hash != s.BlockHash(chainID, fork) || hdr.ParentHash != hashes[fork-1] {
		t.Errorf("fork header %+v: want hash %s parent %s", hdr, s.BlockHash(chainID, fork), hashes[fork-1])
	}
	var orphan json.RawMessage
	rpcCall(t, url+"/1", "eth_getBlockByHash", []any{hashes[fork], false}, &orphan)
	if string(orphan) != "null" {
		t.Errorf("orphaned block by hash = %s, want null", orphan)
	}
}

func TestReorgErrors(t *testing.T) {
	s := newSim(t, sim.Config{Seed: 1, Scale: 0.05, Chains: []uint64{1}})
	d := newSim(t, sim.Config{Seed: 1, Scale: 0.05, Chains: []uint64{1}, DeficitShare: 0.1})
	for _, tc := range []struct {
		name  string
		s     *sim.Sim
		chain uint64
		depth uint64
	}{
		{"unknown chain", s, 5, 3},
		{"zero depth", s, 1, 0},
		{"deficits", d, 1, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.s.Reorg(tc.chain, tc.depth, 1); !errors.Is(err, sim.ErrReorg) {
				t.Fatalf("Reorg = %v, want ErrReorg", err)
			}
		})
	}
}

func rpcCall(t testing.TB, url, method string, params []any, out any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	defer resp.Body.Close()
	var r struct {
		Result json.RawMessage
		Error  *struct{ Message string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.Error != nil {
		t.Fatalf("%s: %v %+v", method, err, r.Error)
	}
	if err := json.Unmarshal(r.Result, out); err != nil {
		t.Fatalf("%s result %s: %v", method, r.Result, err)
	}
}
