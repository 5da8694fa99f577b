package ingest_test

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/liqstream/liqstream/services/ingest/ingest"
	"github.com/liqstream/liqstream/services/lib/secret"
	"github.com/liqstream/liqstream/services/lib/testsupport"
)

// TestFollowPollIsOneCallWhileTheHeadStandsStill: in follow mode a poll is
// one eth_blockNumber; headers (the finalized block, the head's time) are
// read only after the head moved.
func TestFollowPollIsOneCallWhileTheHeadStandsStill(t *testing.T) {
	c := startKfake(t)
	f := startSim(t, 1, "ethereum", 0.05)
	mc := &methodCounter{counts: map[string]int{}, next: f.sim.Handler()}
	srv := httptest.NewServer(mc)
	t.Cleanup(srv.Close)
	head := f.sim.Head(1)
	cfg := f.config(c.ListenAddrs())
	cfg.RPCURL = secret.URL(srv.URL + "/ethereum")
	cfg.From, cfg.To, cfg.Follow = fmt.Sprint(head-500), "", true
	cfg.PollInterval = 20 * time.Millisecond
	in, err := ingest.New(cfg, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor, stop := followIngest(t, in)
	waitFor(head - 500)
	counts := func() (polls, headers int) {
		mc.mu.Lock()
		defer mc.mu.Unlock()
		return mc.counts["eth_blockNumber"], mc.counts["eth_getBlockByNumber"]
	}
	time.Sleep(100 * time.Millisecond) // let the catch-up's header reads finish
	p0, h0 := counts()
	time.Sleep(400 * time.Millisecond)
	p1, h1 := counts()
	if p1-p0 < 5 || h1 != h0 {
		t.Fatalf("head standing still for 400ms at a 20ms poll: %d eth_blockNumber (want >= 5), %d header reads (want 0)", p1-p0, h1-h0)
	}
	f.sim.SetHead(1, head+1)
	testsupport.Eventually(t, 5*time.Second, 10*time.Millisecond, func() bool { _, h := counts(); return h > h1 },
		"no header read after the head moved")
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}
