package ingest

import (
	"context"
	"fmt"
	"time"

	"github.com/liqstream/liqstream/services/ingest/rpc"
)

// HeaderSource reads block headers in batches; *rpc.Client implements it and
// tests use a fake.
type HeaderSource interface {
	HeadersBatch(ctx context.Context, numbers []uint64) ([]rpc.Header, error)
}

var _ HeaderSource = (*rpc.Client)(nil)

// searchFanout is how many headers one search round fetches in one batch.
const searchFanout = 32

// BlockAtTime returns the first block in [lo, hi] whose timestamp is at or
// after t, or hi+1 when even hi is earlier. Timestamps must be
// non-decreasing in the block number. Each round fetches up to 32 evenly
// spaced headers in one batch, so 80M blocks take about six round trips.
func BlockAtTime(ctx context.Context, hs HeaderSource, t time.Time, lo, hi uint64) (uint64, error) {
	ts := uint64(t.Unix())
	if t.Unix() < 0 {
		ts = 0
	}
	// Invariant: every block < lo is earlier than t; hi+1 is at/after t or past
	// the end.
	end := hi + 1
	for lo < end {
		span := end - lo
		step := max(span/searchFanout, 1)
		var nums []uint64
		for n := lo; n < end && len(nums) < searchFanout+1; n += step {
			nums = append(nums, n)
		}
		got, err := hs.HeadersBatch(ctx, nums)
		if err != nil {
			return 0, fmt.Errorf("searching the block at %s: %w", t.Format(time.RFC3339), err)
		}
		newLo, newEnd := end, end
		for i, h := range got {
			if h.Time >= ts {
				newEnd = nums[i]
				if i > 0 {
					newLo = nums[i-1] + 1
				} else {
					newLo = lo
				}
				break
			}
		}
		if newEnd == end { // every sample is earlier than t
			newLo = nums[len(nums)-1] + 1
		}
		if step == 1 && newEnd != end {
			return newEnd, nil
		}
		lo, end = newLo, newEnd
	}
	return end, nil
}
