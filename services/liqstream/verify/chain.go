package verify

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/liqstream/liqstream/services/ingest/decode"
	"github.com/liqstream/liqstream/services/ingest/rpc"
)

// scan counts chain progress for the progress log.
type scan struct {
	blocksDone atomic.Uint64
	events     atomic.Uint64
}

// chainEvents reads and decodes every LiquidationCall log of the pool in
// [from, to) with up to concurrency eth_getLogs ranges in flight, each
// logRange blocks or less: a range the node refuses with a JSON-RPC error is
// halved (never retried as is).
func (v *Verifier) chainEvents(ctx context.Context, cl *rpc.Client, from, to uint64, st *scan) ([]Event, []Undecodable, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type span struct{ lo, hi uint64 } // inclusive
	spans := make(chan span)
	var (
		mu     sync.Mutex
		events []Event
		undec  []Undecodable
		first  error
	)
	fail := func(err error) {
		mu.Lock()
		if first == nil {
			first = err
		}
		mu.Unlock()
		cancel()
	}
	var wg sync.WaitGroup
	for range v.cfg.Concurrency {
		wg.Go(func() {
			for s := range spans {
				evs, und, err := v.fetchSpan(ctx, cl, s.lo, s.hi)
				if err != nil {
					fail(err)
					continue
				}
				st.blocksDone.Add(s.hi - s.lo + 1)
				st.events.Add(uint64(len(evs)))
				mu.Lock()
				events = append(events, evs...)
				undec = append(undec, und...)
				mu.Unlock()
			}
		})
	}
feed:
	for lo := from; lo < to; {
		hi := min(lo+v.t.logRange-1, to-1)
		select {
		case spans <- span{lo, hi}:
		case <-ctx.Done():
			break feed
		}
		lo = hi + 1
	}
	close(spans)
	wg.Wait()
	if first != nil {
		return nil, nil, first
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	return events, undec, nil
}

// fetchSpan returns the decoded events of [lo, hi], splitting the range when
// the node refuses it.
func (v *Verifier) fetchSpan(ctx context.Context, cl *rpc.Client, lo, hi uint64) ([]Event, []Undecodable, error) {
	logs, err := cl.Logs(ctx, lo, hi, []common.Address{v.t.pool}, []common.Hash{decode.TopicLiquidationCall})
	var rerr gethrpc.Error
	if err != nil && hi > lo && ctx.Err() == nil && errors.As(err, &rerr) {
		v.log.Info("eth_getLogs range refused, halving it", "from", lo, "to", hi, "err", err)
		mid := lo + (hi-lo)/2
		a, ua, err := v.fetchSpan(ctx, cl, lo, mid)
		if err != nil {
			return nil, nil, err
		}
		b, ub, err := v.fetchSpan(ctx, cl, mid+1, hi)
		if err != nil {
			return nil, nil, err
		}
		return append(a, b...), append(ua, ub...), nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w: reading logs of blocks %d..%d: %w", ErrRPC, lo, hi, err)
	}
	type decoded struct {
		log types.Log
		lc  decode.LiquidationCall
	}
	var ok []decoded
	var undec []Undecodable
	var blocks []uint64
	seen := map[uint64]bool{}
	for _, l := range logs {
		if l.Address != v.t.pool || l.BlockNumber < lo || l.BlockNumber > hi {
			return nil, nil, fmt.Errorf("%w: eth_getLogs for blocks %d..%d and pool %s returned a log of %s at block %d: the node ignores the filter",
				ErrRPC, lo, hi, strings.ToLower(v.t.pool.Hex()), l.Address, l.BlockNumber)
		}
		var d decoded
		d.log = l
		if err := decode.DecodeLog(&l, &d.lc); err != nil {
			undec = append(undec, Undecodable{Block: l.BlockNumber, TxHash: strings.ToLower(l.TxHash.Hex()), LogIndex: l.Index, Reason: decode.Reason(err)})
			continue
		}
		ok = append(ok, d)
		if !seen[l.BlockNumber] {
			seen[l.BlockNumber] = true
			blocks = append(blocks, l.BlockNumber)
		}
	}
	if len(ok) == 0 {
		return nil, undec, nil
	}
	hdrs, err := cl.HeadersBatch(ctx, blocks)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: reading headers of blocks %d..%d: %w", ErrRPC, lo, hi, err)
	}
	headerOf := make(map[uint64]rpc.Header, len(hdrs))
	for _, h := range hdrs {
		headerOf[h.Number] = h
	}
	chainID := strconv.FormatUint(v.t.chain.ID, 10)
	pool := strings.ToLower(v.t.pool.Hex())
	out := make([]Event, 0, len(ok))
	for _, d := range ok {
		l, h := &d.log, headerOf[d.log.BlockNumber]
		if h.Hash != l.BlockHash {
			return nil, nil, fmt.Errorf("%w: block %d: log block hash %s != header hash %s: the chain reorganised while verifying; verify a range below the safe head",
				ErrRange, l.BlockNumber, l.BlockHash, h.Hash)
		}
		tx := strings.ToLower(l.TxHash.Hex())
		out = append(out, Event{
			EventID:             chainID + ":" + tx + ":" + strconv.FormatUint(uint64(l.Index), 10),
			BlockNumber:         l.BlockNumber,
			BlockHash:           strings.ToLower(l.BlockHash.Hex()),
			BlockTime:           time.Unix(int64(h.Time), 0).UTC(),
			TxHash:              tx,
			TxIndex:             uint32(l.TxIndex),
			LogIndex:            uint32(l.Index),
			Pool:                pool,
			Borrower:            strings.ToLower(d.lc.Borrower.Hex()),
			Liquidator:          strings.ToLower(d.lc.Liquidator.Hex()),
			CollateralToken:     strings.ToLower(d.lc.Collateral.Hex()),
			DebtToken:           strings.ToLower(d.lc.Debt.Hex()),
			CollateralAmountRaw: d.lc.LiquidatedCollateral.Dec(),
			DebtAmountRaw:       d.lc.DebtToCover.Dec(),
			ReceiveAToken:       d.lc.ReceiveAToken,
		})
	}
	return out, undec, nil
}
