package progress

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Snapshot is one observation of a backfill.
type Snapshot struct {
	Chain string
	// Started is false until the window is resolved; nothing but the chain
	// is known before.
	Started bool
	// From and To are the window [From, To); To 0 means it has no end
	// (following the head) or the end is not known yet.
	From, To uint64
	// Current is the next block to ingest: every block below it is done.
	Current     uint64
	Events      uint64
	DeadLetters uint64
}

// Stats is a Snapshot with the figures derived from it and a rate.
type Stats struct {
	Snapshot
	// Bounded is true when the window has an end: Done, Total, Percent and
	// ETA are meaningful only then.
	Bounded     bool
	Done, Total uint64  // blocks done and in the window
	Percent     float64 // 0..100
	Rate        float64 // blocks per second, 0 when unknown
	ETA         time.Duration
	ETAKnown    bool
}

// Compute derives Stats from s at rate blocks per second.
func Compute(s Snapshot, rate float64) Stats {
	st := Stats{Snapshot: s, Rate: rate}
	if !s.Started || s.To == 0 {
		return st
	}
	st.Bounded = true
	if s.To > s.From {
		st.Total = s.To - s.From
	}
	if s.Current > s.From {
		st.Done = min(s.Current-s.From, st.Total)
	}
	st.Percent = 100
	if st.Total > 0 {
		st.Percent = 100 * float64(st.Done) / float64(st.Total)
	}
	st.ETA, st.ETAKnown = ETA(st.Total-st.Done, rate)
	return st
}

// ETA is how long remaining blocks take at rate blocks per second; unknown
// (false) when the rate is not positive and blocks remain.
func ETA(remaining uint64, rate float64) (time.Duration, bool) {
	if remaining == 0 {
		return 0, true
	}
	if !(rate > 0) || math.IsInf(rate, 0) {
		return 0, false
	}
	secs := float64(remaining) / rate
	if secs > float64(math.MaxInt64/int64(time.Second)) {
		return 0, false
	}
	return time.Duration(math.Ceil(secs)) * time.Second, true
}

// barWidth is the number of cells between the brackets.
const barWidth = 20

// Line is the terminal line for st.
func (st Stats) Line() string {
	var b strings.Builder
	b.WriteString(st.Chain)
	b.WriteString("  ")
	switch {
	case !st.Started:
		b.WriteString("starting")
		return b.String()
	case st.Bounded:
		fmt.Fprintf(&b, "%s  %.1f%%  blocks %s/%s", Bar(st.Percent/100, barWidth), st.Percent, Thousands(st.Done), Thousands(st.Total))
	default:
		fmt.Fprintf(&b, "following  block %s", Thousands(st.Current))
	}
	fmt.Fprintf(&b, "  events %s", Thousands(st.Events))
	if st.DeadLetters > 0 {
		fmt.Fprintf(&b, "  dead letters %s", Thousands(st.DeadLetters))
	}
	fmt.Fprintf(&b, "  %s blk/s", FormatRate(st.Rate))
	if st.Bounded {
		eta := "--"
		if st.ETAKnown {
			eta = FormatDuration(st.ETA)
		}
		fmt.Fprintf(&b, "  ETA %s", eta)
	}
	return b.String()
}

// Attrs are the slog fields of st; eta_seconds is -1 when unknown.
func (st Stats) Attrs() []any {
	eta := int64(-1)
	if st.Bounded && st.ETAKnown {
		eta = int64(st.ETA / time.Second)
	}
	attrs := []any{"chain", st.Chain, "current", st.Current, "to", st.To}
	if st.Bounded {
		attrs = append(attrs, "percent", math.Round(st.Percent*10)/10, "blocks_done", st.Done, "blocks_total", st.Total)
	}
	return append(attrs, "events", st.Events, "dead_letters", st.DeadLetters,
		"blocks_per_second", math.Round(st.Rate*10)/10, "eta_seconds", eta)
}

// Bar draws frac (clamped to 0..1) as width cells: "=====>    ".
func Bar(frac float64, width int) string {
	if width < 1 {
		return "[]"
	}
	if !(frac > 0) {
		frac = 0
	}
	filled := int(math.Floor(min(frac, 1) * float64(width)))
	if filled >= width {
		return "[" + strings.Repeat("=", width) + "]"
	}
	return "[" + strings.Repeat("=", filled) + ">" + strings.Repeat(" ", width-filled-1) + "]"
}

// Thousands formats n with comma separators: 1234567 → "1,234,567".
func Thousands(n uint64) string {
	s := strconv.FormatUint(n, 10)
	if len(s) <= 3 {
		return s
	}
	var b strings.Builder
	lead := len(s) % 3
	if lead > 0 {
		b.WriteString(s[:lead])
	}
	for i := lead; i < len(s); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s[i : i+3])
	}
	return b.String()
}

// FormatRate formats blocks per second: one decimal below 10, whole
// numbers with separators above.
func FormatRate(r float64) string {
	switch {
	case !(r > 0):
		return "0"
	case r < 10:
		return strconv.FormatFloat(r, 'f', 1, 64)
	}
	return Thousands(uint64(math.Round(r)))
}

// FormatDuration formats an ETA compactly: 45s, 1m12s, 2h03m, 3d04h.
func FormatDuration(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	}
	return fmt.Sprintf("%dd%02dh", s/86400, s%86400/3600)
}

// Estimator measures the rate of progress over a sliding window.
type Estimator struct {
	// Window is how far back the rate looks (default 30s).
	Window  time.Duration
	samples []sample
}

type sample struct {
	t     time.Time
	block uint64
}

// maxSamples bounds the samples kept, whatever the sampling period.
const maxSamples = 512

// Add records that block was the current block at t. A block below the
// last one (a rewind) restarts the measurement.
func (e *Estimator) Add(t time.Time, block uint64) {
	if n := len(e.samples); n > 0 && (block < e.samples[n-1].block || t.Before(e.samples[n-1].t)) {
		e.samples = e.samples[:0]
	}
	e.samples = append(e.samples, sample{t, block})
	window := e.Window
	if window <= 0 {
		window = 30 * time.Second
	}
	// Keep the newest sample at least Window old, so the rate spans the
	// whole window, and drop those before it.
	cut := 0
	for i := len(e.samples) - 1; i >= 0; i-- {
		if t.Sub(e.samples[i].t) >= window {
			cut = i
			break
		}
	}
	if len(e.samples)-cut > maxSamples {
		cut = len(e.samples) - maxSamples
	}
	if cut > 0 {
		e.samples = append(e.samples[:0], e.samples[cut:]...)
	}
}

// Rate is blocks per second between the oldest and newest samples kept; 0
// with fewer than two samples or no time between them.
func (e *Estimator) Rate() float64 {
	if len(e.samples) < 2 {
		return 0
	}
	first, last := e.samples[0], e.samples[len(e.samples)-1]
	dt := last.t.Sub(first.t).Seconds()
	if dt <= 0 {
		return 0
	}
	return float64(last.block-first.block) / dt
}

// Redraw is how often the terminal line is redrawn.
const Redraw = 250 * time.Millisecond

// Reporter shows a backfill's progress on w: a line redrawn in place when
// w is a terminal, slog lines otherwise.
type Reporter struct {
	w     io.Writer
	tty   bool
	width func() int
	now   func() time.Time

	mu   sync.Mutex
	line string // the line on screen, "" when none
	est  Estimator
}

// New returns a Reporter writing to w. tty says whether w is a terminal;
// width returns its columns (0 or less: unknown), so a line never wraps.
func New(w io.Writer, tty bool, width func() int) *Reporter {
	if width == nil {
		width = func() int { return 0 }
	}
	return &Reporter{w: w, tty: tty, width: width, now: time.Now}
}

// Writer is where the process's logs go: on a terminal each write clears
// the progress line first and redraws it after, so logs scroll above it.
func (r *Reporter) Writer() io.Writer {
	if !r.tty {
		return r.w
	}
	return logWriter{r}
}

type logWriter struct{ r *Reporter }

func (lw logWriter) Write(p []byte) (int, error) {
	r := lw.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.line != "" {
		_, _ = io.WriteString(r.w, "\r\x1b[2K")
	}
	n, err := r.w.Write(p)
	if r.line != "" {
		_, _ = io.WriteString(r.w, r.line)
	}
	return n, err
}

// Update records s and returns its Stats; on a terminal it redraws the line.
func (r *Reporter) Update(s Snapshot) Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.Started {
		r.est.Add(r.now(), s.Current)
	}
	st := Compute(s, r.est.Rate())
	if r.tty {
		r.line = st.Line()
		if w := r.width(); w > 1 && len(r.line) >= w {
			r.line = r.line[:w-1]
		}
		_, _ = io.WriteString(r.w, "\r"+r.line+"\x1b[K")
	}
	return st
}

// Run reports snap() until ctx is done: on a terminal it redraws every
// Redraw, and ends the line when it returns; otherwise it logs an "ingest
// progress" line on log every interval (sampling every Redraw in between,
// so the first line already has a rate).
func (r *Reporter) Run(ctx context.Context, snap func() Snapshot, interval time.Duration, log *slog.Logger) {
	r.Update(snap())
	t := time.NewTicker(Redraw)
	defer t.Stop()
	lastLog := r.now()
	for {
		select {
		case <-ctx.Done():
			if r.tty {
				r.Update(snap())
				r.mu.Lock()
				_, _ = io.WriteString(r.w, "\n")
				r.line = ""
				r.mu.Unlock()
			}
			return
		case <-t.C:
			st := r.Update(snap())
			if now := r.now(); !r.tty && log != nil && now.Sub(lastLog) >= interval {
				lastLog = now
				log.Info("ingest progress", st.Attrs()...)
			}
		}
	}
}
