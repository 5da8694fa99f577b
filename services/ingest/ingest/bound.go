package ingest

import (
	"context"
	"time"
)

// ParseBound parses a window bound in the forms Config.From and Config.To
// accept: a block number (isBlock is true and block holds it), a UTC date
// ("2026-01-01") or an RFC3339 time (t holds it, in UTC). It does no I/O, so
// other tools (liqstream verify) validate their flags exactly as ingest does.
func ParseBound(s string) (block uint64, t time.Time, isBlock bool, err error) {
	b, err := parseBound(s)
	return b.block, b.t, b.isBlock, err
}

// ResolveBound resolves a bound in the forms ParseBound accepts to a block
// number the way ingest resolves its window: a block number is itself; a time
// is the first block in [0, head] whose timestamp is at or after it (head+1
// when even head is earlier), found with BlockAtTime.
func ResolveBound(ctx context.Context, hs HeaderSource, s string, head uint64) (uint64, error) {
	b, err := parseBound(s)
	if err != nil {
		return 0, err
	}
	if b.isBlock {
		return b.block, nil
	}
	return BlockAtTime(ctx, hs, b.t, 0, head)
}
