package sim_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/liqstream/liqstream/services/chainsim/sim"
)

// wholeWindowLogs is an eth_getLogs request over every block of Arbitrum's
// window (~20M blocks), filtered to LiquidationCall.
func wholeWindowLogs(s *sim.Sim) string {
	from, _ := sim.DefaultWindow()
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"fromBlock":"0x%x","toBlock":"latest","address":"%s","topics":["%s"]}]}`,
		s.BlockAt(arbitrumID, from), s.Pool(arbitrumID).Hex(), sim.TopicLiquidationCall.Hex())
}

func TestGetLogsWholeArbitrumWindowIsFast(t *testing.T) {
	s := sharedSim(t, 1, 1)
	body := wholeWindowLogs(s)
	start := time.Now()
	out := post(t, s, "/arbitrum", body)
	took := time.Since(start)
	t.Logf("eth_getLogs over %d Arbitrum blocks: %d bytes, %d events, %s",
		s.Head(arbitrumID)-s.BlockAt(arbitrumID, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)), len(out), len(s.Truth().Events(arbitrumID)), took)
	if took > 2*time.Second {
		t.Fatalf("eth_getLogs took %s", took)
	}
}

func BenchmarkGetLogsWholeArbitrumWindow(b *testing.B) {
	s := sharedSim(b, 1, 1)
	body := wholeWindowLogs(s)
	b.ResetTimer()
	for b.Loop() {
		post(b, s, "/arbitrum", body)
	}
}

func BenchmarkHeaderBatch100(b *testing.B) {
	s := sharedSim(b, 1, 0.1)
	body := "["
	for i := range 100 {
		if i > 0 {
			body += ","
		}
		body += fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"eth_getBlockByNumber","params":["0x%x",false]}`, i, 416_000_000+i*1000)
	}
	body += "]"
	for b.Loop() {
		post(b, s, "/arbitrum", body)
	}
}

func BenchmarkNew(b *testing.B) {
	for b.Loop() {
		if _, err := sim.New(sim.Config{Seed: 1, Scale: 1}); err != nil {
			b.Fatal(err)
		}
	}
}

// priceBatch is a batch of 100 eth_call like ingest's price lookups:
// getAssetPrice and getReserveConfigurationData at the blocks of events.
func priceBatch(s *sim.Sim) []byte {
	evs := s.Truth().Events(polygonID)
	var b strings.Builder
	b.WriteByte('[')
	for i := range 100 {
		ev := evs[i%len(evs)]
		if i > 0 {
			b.WriteByte(',')
		}
		to, sel := s.Oracle(polygonID), "b3596f07"
		if i%2 == 1 {
			to, sel = s.DataProvider(polygonID), "3e150141"
		}
		fmt.Fprintf(&b, `{"jsonrpc":"2.0","id":%d,"method":"eth_call","params":[{"to":"%s","data":"0x%s%064x"},"0x%x"]}`,
			i+1, strings.ToLower(to.Hex()), sel, ev.CollateralAsset.Big(), ev.BlockNumber)
	}
	b.WriteByte(']')
	return []byte(b.String())
}

func BenchmarkServeCallBatch(b *testing.B) {
	s := sharedSim(b, 1, 0.1)
	body := priceBatch(s)
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			s.ServeBody(polygonID, body)
		}
	})
	b.Run("slow", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			s.ServeSlow(polygonID, body)
		}
	})
}
