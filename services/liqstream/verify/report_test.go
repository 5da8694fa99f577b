package verify

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestReportOutput(t *testing.T) {
	r := &Report{Chain: "base", ChainID: 8453, From: 10, To: 20, Safe: 100, ChainEvents: 2, ClickHouseEvents: 2, RollupDays: []string{"2026-01-30"}}
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(b.String(), "\n"); lines != 1 || !strings.HasPrefix(b.String(), "2 events on chain, 2 in ClickHouse, 0 differences: base") {
		t.Fatalf("clean report is not one summary line: %q", b.String())
	}
	r.ClickHouseEvents = 3
	r.Differences = []Difference{
		{Kind: KindExtra, EventID: "8453:0xa:1", Block: 12, Detail: "not on chain"},
		{Kind: KindRollup, Bucket: "daily 2026-01-30", Detail: "differs", Fields: []Field{{"events", "3", "2"}}},
	}
	b.Reset()
	_ = r.WriteText(&b)
	out := b.String()
	for _, want := range []string{"DIFFERENCES:", "extra           8453:0xa:1 (block 12): not on chain", "daily 2026-01-30: differs: events 3 in ClickHouse, want 2",
		"2 events on chain, 3 in ClickHouse, 2 differences (1 extra, 1 rollup_mismatch)\n"} {
		if !strings.Contains(out, want) {
			t.Fatalf("report lacks %q:\n%s", want, out)
		}
	}
	b.Reset()
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var got struct {
		OK          bool         `json:"ok"`
		Summary     string       `json:"summary"`
		Differences []Difference `json:"differences"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil || got.OK || len(got.Differences) != 2 || got.Differences[1].Fields[0].Expected != "2" {
		t.Fatalf("JSON %s: %+v, %v", b.String(), got, err)
	}
}
