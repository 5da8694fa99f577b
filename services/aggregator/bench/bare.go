package bench

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	liqstreamv1 "github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/shopspring/decimal"
)

// bareColumns is the liquidations table's column list for the bare insert,
// the same columns the store writes.
const bareColumns = `chain_id, chain, protocol, market, pool, block_time, block_number, block_hash,
tx_hash, tx_index, log_index, borrower, liquidator,
collateral_token, collateral_symbol, collateral_decimals, debt_token, debt_symbol, debt_decimals,
collateral_amount_raw, debt_amount_raw, collateral_amount, debt_amount, receive_a_token,
collateral_price_usd, collateral_price_source, collateral_price_block,
debt_price_usd, debt_price_source, debt_price_block,
collateral_usd, debt_usd, bonus_usd, protocol_fee_amount_raw, protocol_fee_usd,
event_id, revision, status, method_version, log_topics, log_data, observed_at,
kafka_topic, kafka_partition, kafka_offset, ingested_at`

// Bare inserts the same synthetic events the pipeline consumes straight
// into a fresh database with clickhouse-go, batch rows per INSERT, one typed
// slice per column, and returns events per second counting only the inserts
// (building the columns is not timed). It is the reference the pipeline is
// held to: no Kafka, no decoding, no validation, no rollups.
func Bare(ctx context.Context, addr string, n int, seed int64, batch int, log *slog.Logger) (float64, error) {
	_, conn, drop, err := database(ctx, addr, log)
	if err != nil {
		return 0, err
	}
	defer drop()
	var (
		took    time.Duration
		offset  int64
		pending []*liqstreamv1.LiquidationEvent
	)
	insert := func() error {
		cols := bareRows(pending, offset)
		offset += int64(len(pending))
		pending = pending[:0]
		began := time.Now()
		b, err := conn.PrepareBatch(ctx, "INSERT INTO liquidations ("+bareColumns+")")
		if err != nil {
			return err
		}
		for i, c := range cols {
			if err := b.Column(i).Append(c); err != nil {
				return fmt.Errorf("column %d: %w", i, err)
			}
		}
		if err := b.Send(); err != nil {
			return err
		}
		took += time.Since(began)
		return nil
	}
	err = generate(n, seed, func(evs []*liqstreamv1.LiquidationEvent) error {
		for _, ev := range evs {
			if pending = append(pending, ev); len(pending) == batch {
				if err := insert(); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err == nil && len(pending) > 0 {
		err = insert()
	}
	if err != nil {
		return 0, fmt.Errorf("bare insert: %w", err)
	}
	return float64(n) / took.Seconds(), nil
}

func bareRows(evs []*liqstreamv1.LiquidationEvent, offset int64) []any {
	n := len(evs)
	var cols [46]any
	u64 := func(f func(*liqstreamv1.LiquidationEvent) uint64) []uint64 {
		out := make([]uint64, n)
		for i, ev := range evs {
			out[i] = f(ev)
		}
		return out
	}
	u32 := func(f func(*liqstreamv1.LiquidationEvent) uint32) []uint32 {
		out := make([]uint32, n)
		for i, ev := range evs {
			out[i] = f(ev)
		}
		return out
	}
	str := func(f func(*liqstreamv1.LiquidationEvent) string) []string {
		out := make([]string, n)
		for i, ev := range evs {
			out[i] = f(ev)
		}
		return out
	}
	tm := func(f func(*liqstreamv1.LiquidationEvent) time.Time) []time.Time {
		out := make([]time.Time, n)
		for i, ev := range evs {
			out[i] = f(ev)
		}
		return out
	}
	dec := func(f func(*liqstreamv1.LiquidationEvent) string) []decimal.Decimal {
		out := make([]decimal.Decimal, n)
		for i, ev := range evs {
			if s := f(ev); s != "" {
				out[i] = decimal.RequireFromString(s)
			}
		}
		return out
	}
	decN := func(f func(*liqstreamv1.LiquidationEvent) string) []*decimal.Decimal {
		out := make([]*decimal.Decimal, n)
		for i, ev := range evs {
			if s := f(ev); s != "" {
				d := decimal.RequireFromString(s)
				out[i] = &d
			}
		}
		return out
	}
	f64 := func(f func(*liqstreamv1.LiquidationEvent) string, d func(*liqstreamv1.LiquidationEvent) uint32) []float64 {
		out := make([]float64, n)
		for i, ev := range evs {
			v, _ := decimal.NewFromString(f(ev))
			out[i], _ = v.Shift(-int32(d(ev))).Float64()
		}
		return out
	}
	type E = liqstreamv1.LiquidationEvent
	now := time.Now().UTC().Truncate(time.Second)
	cols = [46]any{
		u64((*E).GetChainId), str((*E).GetChain), str((*E).GetProtocol), str((*E).GetMarket), str((*E).GetPool),
		tm(func(e *E) time.Time { return e.GetBlockTime().AsTime() }), u64((*E).GetBlockNumber), str((*E).GetBlockHash),
		str((*E).GetTxHash), u32((*E).GetTxIndex), u32((*E).GetLogIndex), str((*E).GetBorrower), str((*E).GetLiquidator),
		str(func(e *E) string { return e.GetCollateralAsset().GetAddress() }), str(func(e *E) string { return e.GetCollateralAsset().GetSymbol() }),
		u32(func(e *E) uint32 { return e.GetCollateralAsset().GetDecimals() }),
		str(func(e *E) string { return e.GetDebtAsset().GetAddress() }), str(func(e *E) string { return e.GetDebtAsset().GetSymbol() }),
		u32(func(e *E) uint32 { return e.GetDebtAsset().GetDecimals() }),
		str((*E).GetLiquidatedCollateralAmount), str((*E).GetDebtToCover),
		f64((*E).GetLiquidatedCollateralAmount, func(e *E) uint32 { return e.GetCollateralAsset().GetDecimals() }),
		f64((*E).GetDebtToCover, func(e *E) uint32 { return e.GetDebtAsset().GetDecimals() }),
		make([]uint8, n),
		decN(func(e *E) string { return e.GetCollateralPrice().GetUsd() }), str(func(*E) string { return "ORACLE_AT_BLOCK" }),
		u64(func(e *E) uint64 { return e.GetCollateralPrice().GetBlockNumber() }),
		decN(func(e *E) string { return e.GetDebtPrice().GetUsd() }), str(func(*E) string { return "ORACLE_AT_BLOCK" }),
		u64(func(e *E) uint64 { return e.GetDebtPrice().GetBlockNumber() }),
		dec((*E).GetCollateralUsd), dec((*E).GetDebtUsd), decN((*E).GetBonusUsd), str((*E).GetProtocolFeeAmount), decN((*E).GetProtocolFeeUsd),
		str((*E).GetEventId), u64((*E).GetRevision), str(func(*E) string { return "CONFIRMED" }), str((*E).GetMethodVersion),
		func() [][]string {
			out := make([][]string, n)
			for i, ev := range evs {
				out[i] = ev.GetLogTopics()
			}
			return out
		}(),
		str((*E).GetLogData), tm(func(e *E) time.Time { return e.GetObservedAt().AsTime() }),
		str(func(*E) string { return "bench" }), make([]int32, n),
		func() []int64 {
			out := make([]int64, n)
			for i := range out {
				out[i] = offset + int64(i)
			}
			return out
		}(),
		tm(func(*E) time.Time { return now }),
	}
	return cols[:]
}
