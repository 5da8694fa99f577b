// Package progress reports a backfill's progress: on a terminal, one line
// redrawn in place,
//
//	polygon  [=========>          ]  45.2%  blocks 123,456/273,000  events 12,345  2,100 blk/s  ETA 1m12s
//
// with log lines written through Reporter.Writer scrolling above it;
// elsewhere (a file, a pipe, a container's log), a plain slog line every
// interval with the same fields and eta_seconds.
//
// The rate is measured over a sliding window of recent samples (Estimator),
// so the ETA follows the current speed rather than the average since the
// start; it is unknown ("ETA --", eta_seconds -1) until the window has seen
// blocks advance, and when the window has no end (following the head).
package progress
