// Package kfakeproc starts franz-go's in-memory Kafka broker (kfake) as a
// process of its own, for benchmarks that must not share a CPU budget or a
// garbage collector with the code they measure. The broker program is
// services/aggregator/bench/cmd/kfakebroker; it prints "listening host:port"
// and runs until SIGTERM.
package kfakeproc
