// Package chaos holds the aggregator's fault-injection test: it proves, against
// the real Kafka broker and the real ClickHouse server, that the ClickHouse
// sink never loses or double-counts a liquidation event.
//
// The invariant checked: every daily and hourly rollup bucket, and every
// window query of the query package (rollup and raw variants), equals the
// aggregate, computed in Go with exact integers, of the distinct events at
// their highest revision, retracted ones excluded — whatever happened on the
// way: duplicate records on the topic, older revisions arriving after newer
// ones, revisions moving an event across midnight UTC (to another day or
// month and back), retractions, several aggregator processes in one consumer group
// (static membership, short session timeout) SIGKILLed at random moments and
// restarted, stopped with SIGTERM and a short grace period, paused with
// SIGSTOP beyond the session timeout (zombies), rebalances, and (opt-in)
// ClickHouse restarted mid-load.
//
// The package has no code outside its test. Knobs (environment):
//
//	LIQSTREAM_CHAOS_KILLS=20                 SIGKILLs per run
//	LIQSTREAM_CHAOS_EVENTS=20000             distinct events loaded
//	LIQSTREAM_CHAOS_LOAD=30s                 how long the load is spread over
//	LIQSTREAM_CHAOS_RESTART_CLICKHOUSE=1     also restart ClickHouse once
//	                                         (scripts/clickhouse-stop.sh and
//	                                         -start.sh); only in a run where no
//	                                         other test uses the server
//	LIQSTREAM_TEST_SEED=n                    repeat a run
//
// `make chaos-ci` runs the CI size with the ClickHouse restart;
// scripts/chaos.sh runs a longer load with 100 kills.
package chaos
