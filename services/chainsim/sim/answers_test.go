package sim_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/liqstream/liqstream/services/chainsim/sim"
)

var updateAnswers = flag.Bool("update-answers", false, "rewrite testdata/answers.sha256 from the current answers")

const answersFile = "testdata/answers.sha256"

// referenceSim is the simulation of the answer reference: every chain, with
// deficits, a reorg (with repriced oracle answers) on each chain and caps on
// eth_getLogs. It returns, per chain, hashes of blocks orphaned by the reorg.
func referenceSim(t testing.TB) (*sim.Sim, map[uint64][]common.Hash) {
	t.Helper()
	s := newSim(t, sim.Config{Seed: 17, Scale: 0.05, DeficitShare: 0.2, ReorgPriceShiftBps: 30, MaxLogRange: 20_000, MaxLogResults: 60})
	orphans := map[uint64][]common.Hash{}
	for _, id := range s.Chains() {
		evs := s.Truth().Events(id)
		head := evs[len(evs)*3/5].BlockNumber + 10
		s.SetHead(id, head)
		for n := head - 30; n <= head; n += 7 {
			orphans[id] = append(orphans[id], s.BlockHash(id, n))
		}
		if _, err := s.Reorg(id, 40, 3); err != nil {
			t.Fatal(err)
		}
	}
	return s, orphans
}

// referenceRequests is a seeded sample of requests of every method served,
// good and bad, over a chain of referenceSim.
func referenceRequests(s *sim.Sim, id uint64, orphans []common.Hash) []string {
	r := rand.New(rand.NewPCG(id, 99))
	jan1, _ := sim.DefaultWindow()
	lo, head := s.BlockAt(id, jan1), s.Head(id)
	evs := s.Truth().Events(id)
	for len(evs) > 1 && evs[len(evs)-1].BlockNumber > head {
		evs = evs[:len(evs)-1] // events of the served chain only
	}
	assets := s.Assets(id)
	block := func() uint64 {
		switch r.IntN(4) {
		case 0:
			return evs[r.IntN(len(evs))].BlockNumber
		case 1:
			return head - r.Uint64N(60) // reorged blocks among them
		}
		return lo - 100 + r.Uint64N(head-lo+106) // a few above the head
	}
	blockParam := func() string {
		switch r.IntN(10) {
		case 0:
			return []string{`"latest"`, `"safe"`, `"finalized"`, `"earliest"`, `"pending"`}[r.IntN(5)]
		case 1:
			return fmt.Sprintf(`{"blockNumber":"0x%x"}`, block())
		case 2:
			return fmt.Sprintf(`{"blockHash":"%s"}`, s.BlockHash(id, block()).Hex())
		}
		return fmt.Sprintf(`"0x%x"`, block())
	}
	word := func(a common.Address) string { return fmt.Sprintf("%064x", a.Big()) }
	asset := func() common.Address {
		if r.IntN(15) == 0 {
			return common.HexToAddress("0xdead")
		}
		return assets[r.IntN(len(assets))].Address
	}
	var calls []string
	add := func(format string, args ...any) { calls = append(calls, fmt.Sprintf(format, args...)) }
	for _, m := range []string{"eth_chainId", "net_version", "eth_blockNumber", "web3_clientVersion", "eth_syncing"} {
		add(`"method":"%s","params":[]`, m)
	}
	for range 80 {
		add(`"method":"eth_getBlockByNumber","params":[%s,%t]`, blockParam(), r.IntN(2) == 0)
	}
	for range 25 {
		h := s.BlockHash(id, block()).Hex()
		if r.IntN(4) == 0 {
			h = orphans[r.IntN(len(orphans))].Hex()
		}
		add(`"method":"eth_getBlockByHash","params":["%s",false]`, h)
	}
	for range 70 {
		span := []uint64{1, 10, 500, 5_000, 20_000, 25_000}[r.IntN(6)]
		from := evs[r.IntN(len(evs))].BlockNumber - r.Uint64N(span) // a range holding an event
		if r.IntN(5) == 0 {
			from = block()
		}
		filter := fmt.Sprintf(`"fromBlock":"0x%x","toBlock":"0x%x"`, from, from+span-1)
		switch r.IntN(5) {
		case 0:
			filter = fmt.Sprintf(`"blockHash":"%s"`, s.BlockHash(id, evs[r.IntN(len(evs))].BlockNumber).Hex())
		case 1:
			filter = fmt.Sprintf(`"fromBlock":"0x%x","toBlock":"latest"`, head-r.Uint64N(3000))
		}
		switch r.IntN(4) {
		case 0:
			filter += fmt.Sprintf(`,"address":"%s","topics":["%s"]`, s.Pool(id).Hex(), sim.TopicLiquidationCall.Hex())
		case 1:
			filter += fmt.Sprintf(`,"topics":[null,["0x%s","0x%s"]]`, word(asset()), word(asset()))
		case 2:
			filter += `,"address":["0x0000000000000000000000000000000000000001"]`
		}
		add(`"method":"eth_getLogs","params":[{%s}]`, filter)
	}
	for range 140 {
		var to common.Address
		var data string
		switch r.IntN(10) {
		case 0, 1, 2:
			to, data = s.Oracle(id), "b3596f07"+word(asset())
		case 3:
			to, data = s.Oracle(id), fmt.Sprintf("9d23d9f2%064x%064x", 32, 3)+word(asset())+word(asset())+word(asset())
		case 4:
			to, data = s.Oracle(id), []string{"8c89b64f", "e19f4700", "12345678", "b359"}[r.IntN(4)]
		case 5, 6:
			to, data = s.DataProvider(id), []string{"3e150141", "3cb8a622"}[r.IntN(2)]+word(asset())
		default:
			to, data = asset(), []string{"95d89b41", "06fdde03", "313ce567", "70a08231"}[r.IntN(4)]
		}
		field := "data"
		if r.IntN(3) == 0 {
			field = "input"
		}
		add(`"method":"eth_call","params":[{"to":"%s","%s":"0x%s"},%s]`, to.Hex(), field, data, blockParam())
	}
	out := make([]string, len(calls))
	for i, c := range calls {
		out[i] = fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,%s}`, i+1, c)
	}
	return out
}

func answerHash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}

// TestAnswersMatchReference serves the seeded request sample of every
// chain and compares each answer with the hash recorded before the answer
// path was optimised (testdata/answers.sha256; -update-answers rewrites it).
// Any change to an answer byte fails.
func TestAnswersMatchReference(t *testing.T) {
	s, orphans := referenceSim(t)
	var got []string
	var reqs []string
	served, full := map[string]int{}, map[string]int{} // per method: answers, non-empty results
	for _, id := range s.Chains() {
		for _, req := range referenceRequests(s, id, orphans[id]) {
			reqs = append(reqs, fmt.Sprintf("%d %s", id, req))
			answer := s.ServeBody(id, []byte(req))
			got = append(got, fmt.Sprintf("%d %s", id, answerHash(answer)))
			_, m, _ := strings.Cut(req, `"method":"`)
			m, _, _ = strings.Cut(m, `"`)
			served[m]++
			if a := string(answer); strings.Contains(a, `"result":`) && !strings.Contains(a, `"result":null`) && !strings.Contains(a, `"result":[]`) {
				full[m]++
			}
		}
	}
	// The sample must exercise real answers, not mostly errors.
	for m, n := range served {
		if full[m]*2 < n {
			t.Fatalf("%s: only %d of %d answers are non-empty results", m, full[m], n)
		}
	}
	t.Logf("answers per method %v, non-empty results %v", served, full)
	if *updateAnswers {
		if err := os.MkdirAll(filepath.Dir(answersFile), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(answersFile, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %d answer hashes to %s", len(got), answersFile)
		return
	}
	f, err := os.Open(answersFile)
	if err != nil {
		t.Fatalf("%v: run go test -run TestAnswersMatchReference -update-answers to record the reference", err)
	}
	defer f.Close()
	var want []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		want = append(want, sc.Text())
	}
	if len(want) != len(got) {
		t.Fatalf("%d answers, the reference has %d: the request sample changed; rerun with -update-answers only if that was meant", len(got), len(want))
	}
	bad := 0
	for i := range got {
		if got[i] != want[i] {
			bad++
			if bad <= 5 {
				id, req, _ := strings.Cut(reqs[i], " ")
				var chainID uint64
				fmt.Sscan(id, &chainID)
				t.Errorf("request %d on chain %s: answer changed\nrequest %s\nanswer  %.600s", i, id, req, s.ServeBody(chainID, []byte(req)))
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d of %d answers differ from the reference", bad, len(got))
	}
	t.Logf("%d answers match the reference", len(got))
}
