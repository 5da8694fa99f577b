package consume

import (
	"errors"
	"testing"

	"github.com/liqstream/liqstream/services/aggregator/store"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestInsertingWait checks what waiting for a background insert leaves in
// the open batch: a failed batch goes back in front of it (so every polled,
// uncommitted record stays in the window), a finished one hands over its
// row slice to an empty open batch, and the zero value is a finished
// insert.
func TestInsertingWait(t *testing.T) {
	boom := errors.New("boom")
	finished := func(in *inserting) *inserting {
		in.done = make(chan struct{})
		close(in.done)
		return in
	}
	spare := make([]store.Row, 0, 8)
	for _, tc := range []struct {
		name      string
		in        *inserting
		open      pending
		wantErr   error
		wantN     int
		wantRows  int
		wantPois  int
		wantSpare bool
	}{
		{name: "zero value", in: &inserting{}, open: pending{n: 2, rows: make([]store.Row, 2)}, wantN: 2, wantRows: 2},
		{name: "success hands over the row slice", in: finished(&inserting{rows: spare}), wantSpare: true},
		{name: "success keeps a non-empty open batch", in: finished(&inserting{rows: spare}),
			open: pending{n: 1, rows: make([]store.Row, 1)}, wantN: 1, wantRows: 1},
		{name: "failure goes back in front", in: finished(&inserting{err: boom, failed: &pending{
			n: 3, rows: make([]store.Row, 2), poison: []*kgo.Record{{Offset: 1}}}}),
			open:    pending{n: 2, rows: make([]store.Row, 1), poison: []*kgo.Record{{Offset: 9}}},
			wantErr: boom, wantN: 5, wantRows: 3, wantPois: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.open
			err := tc.in.wait(&p)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("wait = %v, want %v", err, tc.wantErr)
			}
			if p.n != tc.wantN || len(p.rows) != tc.wantRows || len(p.poison) != tc.wantPois {
				t.Errorf("open batch: n %d, %d rows, %d poison; want %d, %d, %d", p.n, len(p.rows), len(p.poison), tc.wantN, tc.wantRows, tc.wantPois)
			}
			if tc.wantPois == 2 && (p.poison[0].Offset != 1 || p.poison[1].Offset != 9) {
				t.Errorf("poison order %d, %d: want the failed batch's first", p.poison[0].Offset, p.poison[1].Offset)
			}
			if got := cap(p.rows) == cap(spare) && cap(spare) > 0 && len(p.rows) == 0; got != tc.wantSpare {
				t.Errorf("open batch reuses the finished row slice: %v, want %v", got, tc.wantSpare)
			}
			if tc.in.failed != nil {
				t.Error("the failed batch was kept for a second merge")
			}
			// A second wait merges nothing again.
			n := p.n
			_ = tc.in.wait(&p)
			if p.n != n {
				t.Errorf("second wait changed the open batch: n %d -> %d", n, p.n)
			}
		})
	}
}

func TestNearlyDrained(t *testing.T) {
	for _, tc := range []struct {
		name   string
		lag    map[string]map[int32]int64
		window int
		want   bool
	}{
		{"no backlog", nil, 10, true},
		{"backlog a third of the window", map[string]map[int32]int64{"t": {0: 100, 1: 200}}, 900, false},
		{"backlog under a third", map[string]map[int32]int64{"t": {0: 100, 1: 199}}, 900, true},
		{"backlog over two topics", map[string]map[int32]int64{"a": {0: 50}, "b": {3: 50}}, 300, false},
		{"empty window", map[string]map[int32]int64{"t": {0: 0}}, 0, false},
	} {
		c := &Consumer{lag: tc.lag}
		if got := c.nearlyDrained(tc.window); got != tc.want {
			t.Errorf("%s: nearlyDrained(%d) = %v, want %v", tc.name, tc.window, got, tc.want)
		}
	}
}
