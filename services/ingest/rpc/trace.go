package rpc

import (
	"context"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/liqstream/liqstream/services/lib/telemetry"
)

// SpanGetLogs is the span of one Logs call: a client span, a child of the
// caller's (ingest's fetch_range), with the chain and the block range.
const SpanGetLogs = "rpc.eth_getLogs"

// Logs returns eth_getLogs over the inclusive range [from, to] for the given
// emitting addresses and topic0 values, in (block, log index) order as the
// nodes return them. The range is fetched in spans of LogSpan blocks: a
// provider's refusal shrinks the span to what its error text suggests (or
// half), successes grow it back, and a refused single block ends with
// ErrRangeExhausted naming the chain and block. The call is traced as
// SpanGetLogs, with an event per refused range.
func (c *Client) Logs(ctx context.Context, from, to uint64, addresses []common.Address, topic0s []common.Hash) ([]types.Log, error) {
	ctx, span := c.tracer.Start(ctx, SpanGetLogs, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.String("rpc.system", "jsonrpc"),
		attribute.String("rpc.method", "eth_getLogs"),
		attribute.String("liqstream.chain", c.cfg.Chain),
		attribute.Int64("liqstream.block.from", int64(from)),
		attribute.Int64("liqstream.block.to", int64(to)),
	))
	logs, err := c.logs(ctx, from, to, addresses, topic0s)
	if span.IsRecording() {
		span.SetAttributes(attribute.Int("liqstream.logs", len(logs)))
	}
	telemetry.EndSpan(span, err)
	return logs, err
}

// traceShrink records a refused range on the current span.
func traceShrink(ctx context.Context, lo, hi, span uint64) {
	if s := trace.SpanFromContext(ctx); s.IsRecording() {
		s.AddEvent("range refused", trace.WithAttributes(attribute.Int64("liqstream.block.from", int64(lo)),
			attribute.Int64("liqstream.block.to", int64(hi)), attribute.Int64("liqstream.span", int64(span))))
	}
}
