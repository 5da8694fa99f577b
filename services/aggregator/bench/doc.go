// Package bench holds the aggregator's benchmark harnesses, the figures
// `make bench` checks against the targets of issue 4:
//
//   - Throughput: a topic preloaded with synthetic events (internal/synth)
//     on a Kafka broker in its own process (cmd/kfakebroker, or the real
//     broker), consumed by the aggregator's consumer and store into a fresh
//     ClickHouse database, timed from the first record polled to the last
//     commit, with the rollups checked against the raw table afterwards;
//     beside it a bare clickhouse-go insert of the same rows (Bare), run
//     right after each pipeline run. The pipeline is held to the bare insert
//     of its own run (ThroughputResult.Ratios, median of the runs): over a
//     series of runs both drift by double-digit percentages on this machine,
//     so the run with the median pipeline figure and the run with the median
//     bare figure are often not the same run. Each
//     pipeline run also reports its CPU time: the consumer's (this process)
//     and, when ClickHouse runs on this machine, the server's, which shows
//     how much of the cores the run kept busy.
//   - Latency: chainsim → ingest (follow mode) → kfake → aggregator →
//     ClickHouse, from the moment chainsim's head makes a block final to the
//     moment a rollup query, polled every 10 ms, counts its events.
//   - Memory: the aggregator binary as a subprocess over backlogs of several
//     sizes, its peak RSS read from /proc/<pid>/status (VmHWM).
//
// Every harness takes a Config with sizes, so cmd/bench runs the full sizes
// for `make bench` and tiny ones for `make bench-smoke`. Nothing here is
// used by the services.
package bench
