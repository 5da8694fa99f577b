// Package bench holds ingest's backfill benchmark harness, the figures
// `make bench` checks against the targets of issue 3:
//
//   - Throughput: one chain of chainsim (Polygon at a Scale with at least
//     50k events) backfilled by the public ingest API (ingest.New + Run,
//     Kafka transactions as the publisher does them) into a Kafka broker
//     running as its own process (the kfakebroker program of
//     services/aggregator/bench/cmd/kfakebroker, or any broker), timed from
//     Run's start to its return after the last commit; the median of several
//     runs, each into fresh topics.
//   - Latency-bound backfill: the same with every HTTP request to chainsim
//     delayed (50 ms by default) by an http.Handler wrapper that also counts
//     the requests. The floor is requests ÷ concurrency × latency (a JSON-RPC
//     batch is one request); the run is judged by its ratio to that floor.
//
// Each run checks that the events published equal chainsim's ground truth
// for the window, and that nothing went to the dead-letter topic, so a fast
// but wrong run fails. The eth_getLogs parser's own figure is a Go benchmark
// (BenchmarkParseLogs in package rpc). Nothing here is used by the service.
package bench
