package store

import (
	"context"
	"fmt"
	liqstreamv1 "github.com/liqstream/liqstream/proto/liqstreamv1"
	"math/big"
	"strings"
	"time"

	"github.com/liqstream/liqstream/services/lib/telemetry"
	"github.com/liqstream/liqstream/services/lib/usd"
)

// badDebtColumns is the explicit column list of every bad_debt INSERT, in
// the order WriteBadDebt appends values.
const badDebtColumns = `chain_id, chain, protocol, market, pool, block_time, block_number, block_hash,
tx_hash, tx_index, log_index, borrower, debt_token, debt_symbol, debt_decimals,
amount_raw, amount, debt_price_usd, debt_price_source, debt_price_block, amount_usd,
event_id, revision, status, method_version, log_topics, log_data, observed_at,
kafka_topic, kafka_partition, kafka_offset, ingested_at`

// BadDebt is one Aave V3.3+ DeficitCreated(user, debtAsset, amountCreated)
// record: debt written off as bad debt, emitted in the liquidation's
// transaction. The consumer builds it from a liqstream.v1.DeficitEvent with
// BadDebtFromEvent and writes it with WriteBadDebt. Fields mirror the
// bad_debt table (schemas/README.md).
type BadDebt struct {
	ChainID               uint64
	Chain                 string
	Protocol, Market      string
	Pool                  string
	BlockTime             time.Time
	BlockNumber           uint64
	BlockHash, TxHash     string
	TxIndex, LogIndex     uint32
	Borrower              string
	DebtToken, DebtSymbol string
	DebtDecimals          uint32
	// AmountRaw is amountCreated, a uint256 decimal.
	AmountRaw string
	// DebtPriceUSD is USD per whole debt token with at most 8 decimals; ""
	// when unpriced (the row then stores a NULL price and amount_usd 0).
	DebtPriceUSD     string
	DebtPriceSource  string
	DebtPriceBlock   uint64
	AmountUSD        string
	EventID          string
	Revision         uint64
	Retracted        bool
	MethodVersion    string
	LogTopics        []string
	LogData          string
	ObservedAt       time.Time
	KafkaCoordinates Coordinates
}

// badDebtRow is a validated BadDebt with its converted values.
type badDebtRow struct {
	b                    *BadDebt
	blockTime, obsAt     time.Time
	status               string
	amount               float64
	price                *string
	amountUSD, amount256 string
}

func (r badDebtRow) day() time.Time {
	y, m, d := r.blockTime.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// newBadDebtRow validates b like NewRow validates a liquidation: an error
// wraps ErrInvalidEvent and names the field.
func newBadDebtRow(b *BadDebt) (badDebtRow, error) {
	bad := func(field, reason string) (badDebtRow, error) {
		return badDebtRow{}, &InvalidEventError{EventID: b.EventID, Field: field, Reason: reason}
	}
	switch {
	case b.EventID == "":
		return bad("event_id", "is empty")
	case b.ChainID == 0:
		return bad("chain_id", "is 0")
	case b.TxHash == "":
		return bad("tx_hash", "is empty")
	}
	r := badDebtRow{b: b, status: "CONFIRMED"}
	if b.Retracted {
		r.status = "RETRACTED"
	}
	r.blockTime = b.BlockTime.UTC().Truncate(time.Second)
	if r.blockTime.Before(minTime) || r.blockTime.After(maxTime) {
		return bad("block_time", fmt.Sprintf("%s is outside 1970..2105", r.blockTime))
	}
	r.obsAt = b.ObservedAt.UTC().Truncate(time.Second)
	if r.obsAt.Before(minTime) || r.obsAt.After(maxTime) {
		r.obsAt = minTime
	}
	v, ok := new(big.Int).SetString(b.AmountRaw, 10)
	if !ok || v.Sign() < 0 || v.Cmp(maxUint256) > 0 || strings.ContainsAny(b.AmountRaw, "+_") {
		return bad("amount_raw", fmt.Sprintf("%q is not a uint256 decimal", b.AmountRaw))
	}
	r.amount256 = v.String()
	r.amount = scaledBig(v, b.DebtDecimals)
	for _, f := range []struct {
		name, in string
		nullable bool
		out      *string
		outNull  **string
	}{
		{name: "amount_usd", in: b.AmountUSD, out: &r.amountUSD},
		{name: "debt_price_usd", in: b.DebtPriceUSD, nullable: true, outNull: &r.price},
	} {
		if f.in == "" {
			if !f.nullable {
				*f.out = "0"
			}
			continue
		}
		u, err := usd.Parse(f.in)
		switch {
		case err != nil:
			return bad(f.name, err.Error())
		case u.Sign() < 0:
			return bad(f.name, fmt.Sprintf("%q is negative", f.in))
		case u.Cmp(maxUSD) >= 0:
			return bad(f.name, fmt.Sprintf("%q does not fit Decimal(38, 8)", f.in))
		}
		s := usd.Format(u)
		if f.nullable {
			*f.outNull = &s
		} else {
			*f.out = s
		}
	}
	return r, nil
}

// scaledBig approximates raw / 10^decimals as a float64 for the convenience
// column amount.
func scaledBig(raw *big.Int, decimals uint32) float64 {
	f := new(big.Float).SetInt(raw)
	if decimals > 0 && decimals <= 77 {
		f.Quo(f, new(big.Float).SetInt(usd.Pow10(uint8(decimals))))
	}
	v, _ := f.Float64()
	return v
}

// WriteBadDebt inserts bad-debt records into bad_debt (one INSERT with an
// explicit column list) and recomputes the daily and hourly rollup buckets
// they touch (their bad_debt_usd and bad_debt_events; every other column is
// recomputed too, from the same raw tables). The guarantees are WriteBatch's:
// when it returns nil the rows and rollups are written and the records may
// be acknowledged; writing the same records again is always safe. It
// validates every record first and writes nothing when one is invalid (the
// error wraps ErrInvalidEvent and names the field). Empty input does nothing.
func (s *Store) WriteBadDebt(ctx context.Context, records []BadDebt) error {
	if len(records) == 0 {
		return nil
	}
	rows := make([]badDebtRow, len(records))
	for i := range records {
		r, err := newBadDebtRow(&records[i])
		if err != nil {
			return err
		}
		rows[i] = r
	}
	ingestedAt := time.Now().UTC().Truncate(time.Second)
	ictx, span := s.startInsert(ctx, "bad_debt", len(rows))
	err := s.retry(ictx, "insert bad debt rows", len(rows), func(ctx context.Context) error {
		return s.insertBadDebt(ctx, rows, ingestedAt)
	})
	telemetry.EndSpan(span, err)
	if err != nil {
		return err
	}
	seen := map[[2]int64]bool{}
	var bs []bucket
	for _, r := range rows {
		k := [2]int64{int64(r.b.ChainID), r.day().Unix()}
		if !seen[k] {
			seen[k] = true
			bs = append(bs, bucket{chainID: r.b.ChainID, chain: r.b.Chain, day: r.day()})
		}
	}
	sortBuckets(bs)
	return s.recomputeWith(ctx, s.plan.badDebt, bs, len(rows))
}

func (s *Store) insertBadDebt(ctx context.Context, rows []badDebtRow, ingestedAt time.Time) error {
	batch, err := s.conn.PrepareBatch(ctx, "INSERT INTO bad_debt ("+badDebtColumns+")")
	if err != nil {
		return fmt.Errorf("preparing bad debt insert: %w", err)
	}
	defer func() { _ = batch.Abort() }()
	for _, r := range rows {
		b := r.b
		topics := b.LogTopics
		if topics == nil {
			topics = []string{}
		}
		if err := batch.Append(
			b.ChainID, b.Chain, b.Protocol, b.Market, b.Pool, r.blockTime, b.BlockNumber, b.BlockHash,
			b.TxHash, b.TxIndex, b.LogIndex, b.Borrower, b.DebtToken, b.DebtSymbol, b.DebtDecimals,
			r.amount256, r.amount, r.price, b.DebtPriceSource, b.DebtPriceBlock, r.amountUSD,
			b.EventID, b.Revision, r.status, b.MethodVersion, topics, b.LogData, r.obsAt,
			b.KafkaCoordinates.Topic, b.KafkaCoordinates.Partition, b.KafkaCoordinates.Offset, ingestedAt,
		); err != nil {
			return fmt.Errorf("appending bad debt %s: %w", b.EventID, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("sending bad debt insert: %w", err)
	}
	return nil
}

// BadDebtFromEvent converts a DeficitEvent from the topic, with its Kafka
// coordinates, into a BadDebt and validates it; an invalid one returns an
// error wrapping ErrInvalidEvent and must not be written (the consumer
// dead-letters it). The event's liquidation_event_id has no column yet: the
// link to the liquidation is (chain_id, tx_hash).
func BadDebtFromEvent(ev *liqstreamv1.DeficitEvent, at Coordinates) (BadDebt, error) {
	b := BadDebt{
		ChainID: ev.GetChainId(), Chain: ev.GetChain(), Protocol: ev.GetProtocol(), Market: ev.GetMarket(),
		Pool: ev.GetPool(), BlockTime: ev.GetBlockTime().AsTime(), BlockNumber: ev.GetBlockNumber(),
		BlockHash: ev.GetBlockHash(), TxHash: ev.GetTxHash(), TxIndex: ev.GetTxIndex(), LogIndex: ev.GetLogIndex(),
		Borrower: ev.GetBorrower(), DebtToken: ev.GetDebtAsset().GetAddress(), DebtSymbol: ev.GetDebtAsset().GetSymbol(),
		DebtDecimals: ev.GetDebtAsset().GetDecimals(), AmountRaw: ev.GetAmountCreated(),
		DebtPriceUSD: ev.GetDebtPrice().GetUsd(), DebtPriceSource: priceSource(ev.GetDebtPrice().GetSource()),
		DebtPriceBlock: ev.GetDebtPrice().GetBlockNumber(), AmountUSD: ev.GetAmountUsd(),
		EventID: ev.GetEventId(), Revision: ev.GetRevision(), Retracted: ev.GetStatus() == liqstreamv1.Status_STATUS_RETRACTED,
		MethodVersion: ev.GetMethodVersion(), LogTopics: ev.GetLogTopics(), LogData: ev.GetLogData(),
		ObservedAt: ev.GetObservedAt().AsTime(), KafkaCoordinates: at,
	}
	if ev.GetBlockTime() == nil {
		return BadDebt{}, &InvalidEventError{EventID: b.EventID, Field: "block_time", Reason: "is missing"}
	}
	if _, err := newBadDebtRow(&b); err != nil {
		return BadDebt{}, err
	}
	return b, nil
}
