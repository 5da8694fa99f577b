package ingest

import (
	"testing"

	"github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/ingest/publish"
)

// TestPruneKeepsAnAnchor: pruning below low keeps the highest remembered
// block under low (and its events), so a fork just above the horizon is
// still found; everything older goes.
func TestPruneKeepsAnAnchor(t *testing.T) {
	r := newRecent()
	r.add(publish.Checkpoint{Block: 1000, Hash: "0xa"}, []*liqstreamv1.LiquidationEvent{{EventId: "e900", BlockNumber: 900, BlockHash: "0x9"}}, nil)
	r.add(publish.Checkpoint{Block: 3000, Hash: "0xc"}, nil, nil)
	r.add(publish.Checkpoint{Block: 5000, Hash: "0xe"}, []*liqstreamv1.LiquidationEvent{{EventId: "e4990", BlockNumber: 4990, BlockHash: "0xd"}}, nil)
	r.prune(4744)
	for n, want := range map[uint64]bool{900: false, 1000: false, 3000: true, 4990: true, 5000: true} {
		if _, ok := r.hashes[n]; ok != want {
			t.Errorf("block %d remembered: %v, want %v", n, ok, want)
		}
	}
	if _, ok := r.revs["e900"]; ok {
		t.Errorf("event below the anchor still remembered")
	}
	if _, ok := r.revs["e4990"]; !ok {
		t.Errorf("event above the anchor forgotten")
	}
}
