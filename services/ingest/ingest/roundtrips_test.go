package ingest_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/liqstream/liqstream/services/chainsim/sim"
	"github.com/liqstream/liqstream/services/lib/secret"
	"github.com/liqstream/liqstream/services/lib/testsupport"
	"github.com/liqstream/liqstream/services/lib/topics"
)

// TestRoundTripsPerEventBlock backfills Polygon with and without
// blockTimestamp in the logs and with and without Multicall3, and checks
// that each run publishes exactly chainsim's truth (timestamps included)
// while the header and eth_call counts follow the design: with log
// timestamps, event blocks of history ranges read no header; with
// Multicall3, a block's calls are one eth_call.
func TestRoundTripsPerEventBlock(t *testing.T) {
	type run struct{ headers, calls int }
	runs := map[string]run{}
	var eventBlocks int
	seed := testsupport.Seed(t) // one chain for every run
	for _, tc := range []struct {
		name          string
		omitTimestamp bool
		multicall     int64
	}{
		{"timestamps in logs, multicall3", false, -1},
		{"no timestamps in logs, multicall3", true, -1},
		{"timestamps in logs, no multicall3", false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startKfake(t)
			f := startSim(t, 137, "polygon", 0.05, func(c *sim.Config) {
				c.Seed, c.OmitLogBlockTimestamp = seed, tc.omitTimestamp
			})
			cc := &methodCounter{counts: map[string]int{}, next: f.sim.Handler(), each: true}
			srv := httptest.NewServer(cc)
			t.Cleanup(srv.Close)
			cfg := f.config(c.ListenAddrs())
			cfg.RPCURL = secret.URL(srv.URL + "/" + f.slug)
			cfg.Multicall3Block = tc.multicall
			runIngest(t, cfg, 60*time.Second)
			checkAgainstTruth(t, f, testsupport.ReadTopic(t, c.ListenAddrs(), cfg.Kafka.TopicPrefix+topics.Liquidations))
			blocks := map[uint64]bool{}
			for _, e := range f.sim.Truth().Events(137) {
				blocks[e.BlockNumber] = true
			}
			eventBlocks = len(blocks)
			runs[tc.name] = run{headers: cc.get("eth_getBlockByNumber"), calls: cc.get("eth_call")}
			t.Logf("%d event blocks: %d eth_getBlockByNumber, %d eth_call", eventBlocks, runs[tc.name].headers, runs[tc.name].calls)
		})
	}
	if t.Failed() {
		return
	}
	with, without := runs["timestamps in logs, multicall3"], runs["no timestamps in logs, multicall3"]
	// Without log timestamps every event block but those on a range's first
	// or last block, or near the safe head, reads its header.
	if saved := without.headers - with.headers; saved < eventBlocks*9/10 {
		t.Errorf("log timestamps saved %d header reads for %d event blocks; want at least 90%%", saved, eventBlocks)
	}
	// Multicall3: one eth_call per event block (plus start-up and token
	// metadata calls); without it, a price call and two reserve calls per
	// block at least.
	mc, plain := with.calls, runs["timestamps in logs, no multicall3"].calls
	if plain < 3*eventBlocks || mc > eventBlocks+plain/10 {
		t.Errorf("eth_calls: %d with Multicall3, %d without, for %d event blocks; want about %d and at least %d",
			mc, plain, eventBlocks, eventBlocks, 3*eventBlocks)
	}
}
