package ingest

import (
	"maps"
	"slices"
	"testing"

	"github.com/ethereum/go-ethereum/core/types"

	"github.com/liqstream/liqstream/services/ingest/rpc"
)

func TestBlockTimes(t *testing.T) {
	lg := func(block, ts uint64) types.Log { return types.Log{BlockNumber: block, BlockTimestamp: ts} }
	tests := []struct {
		name string
		logs []types.Log
		want map[uint64]uint64
	}{
		{"none", nil, map[uint64]uint64{}},
		{"every log carries it", []types.Log{lg(1, 10), lg(1, 10), lg(2, 12)}, map[uint64]uint64{1: 10, 2: 12}},
		{"a log without it sends its block to the headers", []types.Log{lg(1, 10), lg(1, 0), lg(2, 12)}, map[uint64]uint64{2: 12}},
		{"the first log without it", []types.Log{lg(1, 0), lg(1, 10)}, map[uint64]uint64{}},
		{"logs that disagree", []types.Log{lg(1, 10), lg(1, 11), lg(1, 10), lg(3, 14)}, map[uint64]uint64{3: 14}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := blockTimes(tt.logs); !maps.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestOutsideTimes(t *testing.T) {
	times := map[uint64]uint64{100: 1000, 105: 999, 110: 1100, 120: 1201, 150: 1500}
	fetched := map[uint64]rpc.Header{100: {}, 150: {}}
	got := outsideTimes(times, 1000, 1500, fetched)
	if want := []uint64{105}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v (blocks 100 and 150 have headers; 110 and 120 are inside)", got, want)
	}
	if got := outsideTimes(map[uint64]uint64{101: 2000, 102: 10}, 1000, 1500, fetched); !slices.Equal(got, []uint64{101, 102}) {
		t.Fatalf("got %v, want both blocks", got)
	}
}
