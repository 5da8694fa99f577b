package store

import (
	"testing"
	"time"
)

func TestStageAge(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	made := stageName(uint64(now.Add(-90*time.Minute).UnixNano()) * 2)
	for _, tc := range []struct {
		name string
		want time.Duration
		ok   bool
	}{
		{made, 90 * time.Minute, true},
		{stageName(uint64(now.UnixNano()) * 2), 0, true},
		{"rollup_stage_", 0, false},
		{"rollup_stage_123", 0, false},
		{"rollup_stage_x_0000abcd", 0, false},
		{"rollup_stage_123_abc", 0, false},      // suffix too short
		{"rollup_stagex123_0000abcd", 0, false}, // LIKE matches it, the prefix does not
		{"liquidations", 0, false},
	} {
		got, ok := stageAge(tc.name, now)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("stageAge(%q) = %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestStageNamesDiffer(t *testing.T) {
	const v = 42
	if a, b := stageName(v), stageName(v); a == b {
		t.Fatalf("two recomputations at one version share staging table %s", a)
	}
}
