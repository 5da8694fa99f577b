package ingest

import (
	"context"
	"testing"
	"time"
)

func TestResolveBound(t *testing.T) {
	const genesis = 1_767_225_600 // 2026-01-01T00:00:00Z
	f := &fakeHeaders{time: func(n uint64) uint64 { return genesis + 2*n }, head: 1_000_000}
	tests := []struct {
		in      string
		want    uint64
		wantErr bool
	}{
		{"12345", 12345, false},
		{"2026-01-01", 0, false},
		{"2026-01-02", 43_200, false},
		{"2026-01-01T00:00:03Z", 2, false},
		{"2027-01-01", 1_000_001, false}, // after the head: head+1
		{"yesterday", 0, true},
		{"2026-13-01", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ResolveBound(context.Background(), f, tc.in, f.head)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("ResolveBound(%q) = %d, want an error", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ResolveBound(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
			}
			block, ts, isBlock, err := ParseBound(tc.in)
			if err != nil || isBlock != (ts.IsZero()) || (isBlock && block != tc.want) {
				t.Fatalf("ParseBound(%q) = %d, %s, %v, %v", tc.in, block, ts, isBlock, err)
			}
			if !isBlock && ts.Location() != time.UTC {
				t.Fatalf("ParseBound(%q) time %s is not UTC", tc.in, ts)
			}
		})
	}
}
