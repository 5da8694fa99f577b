package topics

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

const (
	// Liquidations carries LiquidationEvent records, version 1 of the contract.
	Liquidations = "liqstream.liquidations.v1"
	// LiquidationsDLQ carries records a consumer could not process, with the
	// reason in headers.
	LiquidationsDLQ = "liqstream.liquidations.dlq.v1"
	// IngestCheckpoints is a compacted topic keyed by chain id whose latest
	// value is the last block an ingest process has fully published.
	IngestCheckpoints = "liqstream.ingest-checkpoints.v1"

	// Partitions of the liquidations topic.
	Partitions = 12
)

// Header names on liquidation records.
const (
	// HeaderSchema names the protobuf message of the value,
	// "liqstream.v1.LiquidationEvent".
	HeaderSchema = "liqstream-schema"
	// HeaderContentType is "application/x-protobuf".
	HeaderContentType = "content-type"
	// HeaderDLQReason says why a record went to the dead-letter topic.
	HeaderDLQReason = "liqstream-dlq-reason"
	// HeaderDLQDetail carries the human-readable error of a dead-lettered
	// record; HeaderDLQReason carries its machine-readable reason.
	HeaderDLQDetail = "liqstream-dlq-detail"
	// HeaderDLQSource is "topic/partition/offset" of the original record.
	HeaderDLQSource = "liqstream-dlq-source"
	// HeaderDLQValueOmitted is set on a dead-lettered record whose value was
	// too large to produce again: it holds the number of bytes left out (the
	// original stays at HeaderDLQSource until retention deletes it).
	HeaderDLQValueOmitted = "liqstream-dlq-value-omitted"
	// HeaderTraceParent and HeaderTraceState carry the W3C trace context of
	// the span that produced the record (lib/telemetry.InjectRecord), when
	// tracing is on; dead-lettered records keep them.
	HeaderTraceParent = "traceparent"
	HeaderTraceState  = "tracestate"
)

// SchemaLiquidationEvent is the value of HeaderSchema for LiquidationEvent.
const SchemaLiquidationEvent = "liqstream.v1.LiquidationEvent"

// SchemaDeficitEvent is the value of HeaderSchema for DeficitEvent (Aave
// V3.3+ bad debt written off with DeficitCreated), carried on the same
// topic as the liquidations with the same key.
const SchemaDeficitEvent = "liqstream.v1.DeficitEvent"

// Key returns the record key of an event: "<chain id>:<borrower>", so every
// event of a borrower on a chain lands in one partition in publish order.
func Key(chainID uint64, borrower string) []byte {
	return []byte(strconv.FormatUint(chainID, 10) + ":" + strings.ToLower(borrower))
}

// Spec is a topic with the settings liqstream creates it with.
type Spec struct {
	Name       string
	Partitions int32
	Configs    map[string]*string
}

func ptr(s string) *string { return &s }

// Specs returns every topic liqstream uses. The liquidations topic uses the
// delete policy with no time or size based deletion: compaction would keep only
// a borrower's latest event, and retention would drop history analysts replay.
func Specs() []Spec {
	return []Spec{
		{Name: Liquidations, Partitions: Partitions, Configs: map[string]*string{
			"cleanup.policy": ptr("delete"), "retention.ms": ptr("-1"), "retention.bytes": ptr("-1"),
		}},
		{Name: LiquidationsDLQ, Partitions: 1, Configs: map[string]*string{
			"cleanup.policy": ptr("delete"), "retention.ms": ptr("-1"),
		}},
		{Name: IngestCheckpoints, Partitions: 1, Configs: map[string]*string{
			"cleanup.policy": ptr("compact"),
		}},
	}
}

// Ensure creates every topic of Specs that does not exist yet, with the given
// replication factor (-1 uses the broker default). Existing topics are left as
// they are. It is safe to call concurrently from several processes.
func Ensure(ctx context.Context, adm *kadm.Client, replication int16) error {
	for _, s := range Specs() {
		resp, err := adm.CreateTopic(ctx, s.Partitions, replication, s.Configs, s.Name)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("creating topic %s: %w (check that the brokers are reachable and allow topic creation)", s.Name, err)
		}
	}
	return nil
}
