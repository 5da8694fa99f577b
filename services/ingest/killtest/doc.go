// Package killtest holds the kill test of ingest's exactly-once publishing
// (see package publish and the "Exactly-once publishing" section of
// services/ingest/README.md). It has no code of its own, only
// TestSIGKILLExactlyOnce, an integration test against the real Kafka broker.
//
// The test builds cmd/ingest once, runs it as a subprocess against an
// in-process chainsim served with a small per-request latency, and SIGKILLs
// it at seeded-random moments, restarting it each time: first while it
// backfills (the head is held mid-window), then while it follows a head that
// the test moves with sim.SetHead. A last incarnation catches up and is
// stopped with SIGTERM. A read_committed consumer must then find every
// chainsim truth event exactly once (by event_id: no duplicate, no gap) and
// the checkpoint at the last safe block.
//
// LIQSTREAM_INGEST_KILLS sets the number of kills (default 20);
// LIQSTREAM_TEST_SEED repeats a run; scripts/chaos-ingest.sh runs many kills.
package killtest
