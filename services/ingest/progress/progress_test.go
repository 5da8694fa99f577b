package progress

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liqstream/liqstream/services/lib/testsupport"
)

func TestBar(t *testing.T) {
	tests := []struct {
		frac  float64
		width int
		want  string
	}{
		{0, 10, "[>         ]"},
		{0.5, 10, "[=====>    ]"},
		{0.452, 20, "[=========>          ]"},
		{0.999, 10, "[=========>]"},
		{1, 10, "[==========]"},
		{1.5, 4, "[====]"},
		{-1, 4, "[>   ]"},
		{0.5, 0, "[]"},
	}
	for _, tt := range tests {
		if got := Bar(tt.frac, tt.width); got != tt.want {
			t.Errorf("Bar(%v, %d) = %q, want %q", tt.frac, tt.width, got, tt.want)
		}
	}
}

func TestFormats(t *testing.T) {
	for _, tt := range []struct {
		n    uint64
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1,000"}, {123456, "123,456"}, {1234567, "1,234,567"}, {18446744073709551615, "18,446,744,073,709,551,615"}} {
		if got := Thousands(tt.n); got != tt.want {
			t.Errorf("Thousands(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{{0, "0s"}, {45 * time.Second, "45s"}, {72 * time.Second, "1m12s"}, {59*time.Minute + 59*time.Second, "59m59s"},
		{2*time.Hour + 3*time.Minute + 10*time.Second, "2h03m"}, {76 * time.Hour, "3d04h"}, {1499 * time.Millisecond, "1s"}} {
		if got := FormatDuration(tt.d); got != tt.want {
			t.Errorf("FormatDuration(%s) = %q, want %q", tt.d, got, tt.want)
		}
	}
	for _, tt := range []struct {
		r    float64
		want string
	}{{0, "0"}, {-3, "0"}, {3.46, "3.5"}, {9.94, "9.9"}, {10, "10"}, {2100.4, "2,100"}} {
		if got := FormatRate(tt.r); got != tt.want {
			t.Errorf("FormatRate(%v) = %q, want %q", tt.r, got, tt.want)
		}
	}
}

func TestETA(t *testing.T) {
	tests := []struct {
		remaining uint64
		rate      float64
		want      time.Duration
		known     bool
	}{
		{0, 0, 0, true},                         // nothing left: done, whatever the rate
		{149_544, 2100, 72 * time.Second, true}, // 71.2 s rounds up
		{2100, 2100, time.Second, true},
		{1, 1000, time.Second, true},
		{100, 0, 0, false}, // no rate yet
		{100, -5, 0, false},
		{1 << 63, 1e-9, 0, false}, // beyond a Duration
	}
	for _, tt := range tests {
		got, known := ETA(tt.remaining, tt.rate)
		if got != tt.want || known != tt.known {
			t.Errorf("ETA(%d, %v) = %s, %v; want %s, %v", tt.remaining, tt.rate, got, known, tt.want, tt.known)
		}
	}
}

func TestLine(t *testing.T) {
	tests := []struct {
		name string
		s    Snapshot
		rate float64
		want string
	}{
		{"backfill", Snapshot{Chain: "polygon", Started: true, From: 1_000_000, To: 1_273_000, Current: 1_123_456, Events: 12_345}, 2100,
			"polygon  [=========>          ]  45.2%  blocks 123,456/273,000  events 12,345  2,100 blk/s  ETA 1m12s"},
		{"no rate yet", Snapshot{Chain: "base", Started: true, From: 10, To: 110, Current: 10}, 0,
			"base  [>                   ]  0.0%  blocks 0/100  events 0  0 blk/s  ETA --"},
		{"done with dead letters", Snapshot{Chain: "base", Started: true, From: 10, To: 110, Current: 110, Events: 7, DeadLetters: 2}, 50,
			"base  [====================]  100.0%  blocks 100/100  events 7  dead letters 2  50 blk/s  ETA 0s"},
		{"empty window", Snapshot{Chain: "base", Started: true, From: 10, To: 10, Current: 10}, 0,
			"base  [====================]  100.0%  blocks 0/0  events 0  0 blk/s  ETA 0s"},
		{"following", Snapshot{Chain: "ethereum", Started: true, From: 5, Current: 21_000_000, Events: 3}, 1.25,
			"ethereum  following  block 21,000,000  events 3  1.2 blk/s"},
		{"starting", Snapshot{Chain: "arbitrum"}, 0, "arbitrum  starting"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Compute(tt.s, tt.rate).Line(); got != tt.want {
				t.Fatalf("\ngot  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestEstimator(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	type obs struct {
		at    float64
		block uint64
	}
	tests := []struct {
		name   string
		window time.Duration
		obs    []obs
		want   float64
	}{
		{"one sample", 0, []obs{{0, 100}}, 0},
		{"steady", 0, []obs{{0, 0}, {1, 100}, {2, 200}}, 100},
		{"same instant", 0, []obs{{1, 0}, {1, 100}}, 0},
		// The window forgets the slow start: 10 blk/s for 60 s, then 1,000
		// blk/s for the last 30 s.
		{"window follows the current speed", 30 * time.Second,
			[]obs{{0, 0}, {30, 300}, {60, 600}, {70, 10_600}, {80, 20_600}, {90, 30_600}}, 1000},
		{"rewind restarts", 0, []obs{{0, 0}, {1, 1000}, {2, 500}, {4, 700}}, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := Estimator{Window: tt.window}
			for _, o := range tt.obs {
				e.Add(at(o.at), o.block)
			}
			if got := e.Rate(); got != tt.want {
				t.Fatalf("Rate() = %v, want %v", got, tt.want)
			}
		})
	}
	// Bounded memory whatever the sampling rate.
	var e Estimator
	for i := range 10_000 {
		e.Add(at(float64(i)/1000), uint64(i))
	}
	if len(e.samples) > maxSamples {
		t.Fatalf("%d samples kept, want at most %d", len(e.samples), maxSamples)
	}
}

func TestReporterTerminal(t *testing.T) {
	var out testsupport.SyncBuffer
	r := New(&out, true, func() int { return 40 })
	now := time.Unix(0, 0)
	r.now = func() time.Time { return now }
	log := slog.New(slog.NewTextHandler(r.Writer(), &slog.HandlerOptions{ReplaceAttr: dropTime}))

	s := Snapshot{Chain: "polygon", Started: true, From: 0, To: 1000, Current: 0}
	r.Update(s)
	log.Info("hello")
	now, s.Current = now.Add(time.Second), 500
	r.Update(s)

	line1 := "polygon  [>                   ]  0.0%  " // cut to 39 columns
	line2 := "polygon  [==========>         ]  50.0% "
	want := "\r" + line1 + "\x1b[K" +
		"\r\x1b[2K" + "level=INFO msg=hello\n" + line1 + // the log scrolls above, the line comes back
		"\r" + line2 + "\x1b[K"
	if got := out.String(); got != want {
		t.Fatalf("\ngot  %q\nwant %q", got, want)
	}
}

func TestReporterPlain(t *testing.T) {
	var out testsupport.SyncBuffer
	r := New(&out, false, nil)
	if r.Writer() != &out {
		t.Fatal("off a terminal, logs go straight to the output")
	}
	var mu sync.Mutex
	cur := uint64(100)
	snap := func() Snapshot {
		mu.Lock()
		defer mu.Unlock()
		cur += 1000
		return Snapshot{Chain: "base", Started: true, From: 100, To: 1_000_100, Current: cur, Events: 3}
	}
	log := slog.New(slog.NewJSONHandler(&out, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx, snap, 2*Redraw, log); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(out.String(), "\n") < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) < 3 {
		t.Fatalf("want 3 progress lines, got %q", out.String())
	}
	if strings.Contains(out.String(), "\r") || strings.Contains(out.String(), "\x1b") {
		t.Fatalf("plain output holds terminal controls: %q", out.String())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rec); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"chain", "current", "to", "percent", "blocks_done", "blocks_total", "events", "dead_letters", "blocks_per_second", "eta_seconds"} {
		if _, ok := rec[k]; !ok {
			t.Errorf("progress line lacks %s: %s", k, lines[len(lines)-1])
		}
	}
	if rec["msg"] != "ingest progress" || rec["blocks_total"] != 1e6 {
		t.Errorf("unexpected line %s", lines[len(lines)-1])
	}
	// Sampled between lines: every line has a rate and an ETA.
	for _, l := range lines {
		if strings.Contains(l, `"blocks_per_second":0,`) || strings.Contains(l, `"eta_seconds":-1`) {
			t.Errorf("a line without a rate: %s", l)
		}
	}
	// 1,000 blocks a tick: the rate is positive and the ETA known.
	if rec["blocks_per_second"].(float64) <= 0 || rec["eta_seconds"].(float64) <= 0 {
		t.Errorf("rate or ETA unknown after several ticks: %s", lines[len(lines)-1])
	}
}

func TestAttrsUnbounded(t *testing.T) {
	attrs := Compute(Snapshot{Chain: "base", Started: true, Current: 7}, 0).Attrs()
	got := map[string]any{}
	for i := 0; i+1 < len(attrs); i += 2 {
		got[attrs[i].(string)] = attrs[i+1]
	}
	if got["eta_seconds"] != int64(-1) || got["percent"] != nil {
		t.Fatalf("following: want eta_seconds -1 and no percent, got %v", got)
	}
}

func dropTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}
