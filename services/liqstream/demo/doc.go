// Package demo runs the whole liqstream pipeline in one process over the chain
// simulator and checks the result against the simulator's ground truth:
//
//	chainsim ─► ingest × chains ─► Kafka ─► aggregator ─► ClickHouse ─► query
//
// It is what `make demo` runs (with an embedded kfake broker unless brokers are
// given) and what the end-to-end test runs against the real broker. The stages
// are the same packages the deployed services use; only the wiring is here.
//
// Run returns a Result with ClickHouse's figures beside the ground truth per
// chain for the window, per chain and UTC day, and the elapsed time; the
// caller decides what a difference means (the demo exits non-zero).
package demo
