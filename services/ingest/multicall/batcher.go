package multicall

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/liqstream/liqstream/services/ingest/rpc"
)

// Caller is the RPC a Batcher wraps; *rpc.Client implements it.
type Caller interface {
	CallBatch(ctx context.Context, calls []rpc.Call) ([]rpc.CallResult, error)
	Head(ctx context.Context) (uint64, error)
}

var _ Caller = (*rpc.Client)(nil)

// CallFailed is the error of an inner call that reverted inside aggregate3.
type CallFailed struct {
	// Data is the revert data the inner call returned.
	Data []byte
}

func (e *CallFailed) Error() string {
	if reason, ok := revertReason(e.Data); ok {
		return "execution reverted: " + reason
	}
	if len(e.Data) == 0 {
		return "execution reverted"
	}
	return fmt.Sprintf("execution reverted (data %#x)", e.Data)
}

// revertReason decodes Error(string) revert data.
func revertReason(b []byte) (string, bool) {
	if len(b) < 4+64 || b[0] != 0x08 || b[1] != 0xc3 || b[2] != 0x79 || b[3] != 0xa0 {
		return "", false
	}
	b = b[4:]
	off, err := word(b, 0)
	if err != nil {
		return "", false
	}
	n, err := word(b, off)
	if err != nil || n > len(b)-off-32 {
		return "", false
	}
	return string(b[off+32 : off+32+n]), true
}

// Stats counts a Batcher's work.
type Stats struct {
	// Aggregates is how many aggregate3 calls were sent.
	Aggregates uint64
	// Inner is how many calls went inside them.
	Inner uint64
	// Fallbacks is how many aggregate3 calls failed or answered garbage and
	// were sent again as separate calls.
	Fallbacks uint64
}

// Batcher groups each block's calls into one aggregate3 call (package doc).
// It is safe for concurrent use.
type Batcher struct {
	inner Caller
	from  uint64
	log   *slog.Logger
	chain string

	aggregates, innerCalls, fallbacks atomic.Uint64
}

// New returns a Batcher over inner that aggregates calls at blocks at or
// above fromBlock, Multicall3's deployment block on the chain.
func New(inner Caller, fromBlock uint64, chain string, log *slog.Logger) *Batcher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Batcher{inner: inner, from: fromBlock, chain: chain, log: log}
}

// Head is the wrapped Caller's Head.
func (b *Batcher) Head(ctx context.Context) (uint64, error) { return b.inner.Head(ctx) }

// Stats returns the counts so far.
func (b *Batcher) Stats() Stats {
	return Stats{Aggregates: b.aggregates.Load(), Inner: b.innerCalls.Load(), Fallbacks: b.fallbacks.Load()}
}

// part is one wire call: calls[idx[0]] alone, or the aggregate of idx.
type part struct {
	idx       []int
	aggregate bool
}

// CallBatch runs calls, indexed like calls in the answer (package doc).
func (b *Batcher) CallBatch(ctx context.Context, calls []rpc.Call) ([]rpc.CallResult, error) {
	byBlock := map[uint64][]int{}
	var order []uint64
	for i, c := range calls {
		if _, ok := byBlock[c.Block]; !ok {
			order = append(order, c.Block)
		}
		byBlock[c.Block] = append(byBlock[c.Block], i)
	}
	var parts []part
	var wire []rpc.Call
	for _, blk := range order {
		idx := byBlock[blk]
		if len(idx) < 2 || blk < b.from {
			for _, i := range idx {
				parts = append(parts, part{idx: []int{i}})
				wire = append(wire, calls[i])
			}
			continue
		}
		inner := make([]Call3, len(idx))
		for k, i := range idx {
			inner[k] = Call3{Target: calls[i].To, AllowFailure: true, CallData: calls[i].Data}
		}
		parts = append(parts, part{idx: idx, aggregate: true})
		wire = append(wire, rpc.Call{To: Address, Data: EncodeAggregate3(inner), Block: blk})
		b.aggregates.Add(1)
		b.innerCalls.Add(uint64(len(idx)))
	}
	res, err := b.inner.CallBatch(ctx, wire)
	if err != nil {
		return nil, err
	}
	if len(res) != len(wire) {
		return nil, fmt.Errorf("multicall: %d answers to %d calls", len(res), len(wire))
	}
	out := make([]rpc.CallResult, len(calls))
	var again []int
	for k, p := range parts {
		r := res[k]
		if !p.aggregate {
			out[p.idx[0]] = r
			continue
		}
		got, derr := r.Data, r.Err
		var results []Result
		if derr == nil {
			results, derr = DecodeAggregate3(got, len(p.idx))
		}
		if derr != nil {
			b.fallbacks.Add(1)
			b.log.Debug("aggregate3 call failed; sending its calls separately", "chain", b.chain, "block", calls[p.idx[0]].Block,
				"calls", len(p.idx), "err", derr)
			again = append(again, p.idx...)
			continue
		}
		for j, i := range p.idx {
			if results[j].Success {
				out[i] = rpc.CallResult{Data: results[j].ReturnData}
			} else {
				out[i] = rpc.CallResult{Err: &CallFailed{Data: results[j].ReturnData}}
			}
		}
	}
	if len(again) > 0 {
		sep := make([]rpc.Call, len(again))
		for k, i := range again {
			sep[k] = calls[i]
		}
		res, err := b.inner.CallBatch(ctx, sep)
		if err != nil {
			return nil, err
		}
		if len(res) != len(sep) {
			return nil, fmt.Errorf("multicall: %d answers to %d calls", len(res), len(sep))
		}
		for k, i := range again {
			out[i] = res[k]
		}
	}
	return out, nil
}
