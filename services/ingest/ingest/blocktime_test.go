package ingest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/liqstream/liqstream/services/ingest/rpc"
)

// fakeHeaders serves timestamps from a function and counts batches.
type fakeHeaders struct {
	time    func(n uint64) uint64
	head    uint64
	batches int
}

func (f *fakeHeaders) HeadersBatch(_ context.Context, nums []uint64) ([]rpc.Header, error) {
	f.batches++
	out := make([]rpc.Header, len(nums))
	for i, n := range nums {
		if n > f.head {
			return nil, fmt.Errorf("block %d above head", n)
		}
		out[i] = rpc.Header{Number: n, Time: f.time(n)}
	}
	return out, nil
}

func TestBlockAtTime(t *testing.T) {
	const genesis = 1_700_000_000
	// 2-second blocks, with a run of equal timestamps (several blocks per
	// second, as on Arbitrum) between 1000 and 1009.
	ts := func(n uint64) uint64 {
		switch {
		case n < 1000:
			return genesis + 2*n
		case n < 1010:
			return genesis + 2000
		default:
			return genesis + 2000 + 2*(n-1009)
		}
	}
	f := &fakeHeaders{time: ts, head: 80_000_000}
	tests := []struct {
		name string
		t    uint64
		want uint64
	}{
		{"before genesis", genesis - 100, 0},
		{"genesis", genesis, 0},
		{"exact block", genesis + 2*500, 500},
		{"between blocks", genesis + 2*500 + 1, 501},
		{"first of equal run", genesis + 2000, 1000},
		{"after equal run", genesis + 2001, 1010},
		{"late", genesis + 2000 + 2*(70_000_000-1009), 70_000_000},
		{"after head", genesis + 2000 + 2*(80_000_001-1009), 80_000_001},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.batches = 0
			got, err := BlockAtTime(context.Background(), f, time.Unix(int64(tc.t), 0), 0, f.head)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("BlockAtTime = %d, want %d", got, tc.want)
			}
			if f.batches > 8 {
				t.Fatalf("%d batches for 80M blocks, want at most 8", f.batches)
			}
		})
	}
}
