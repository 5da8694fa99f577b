package store

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	liqstreamv1 "github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/lib/usd"
)

// ErrInvalidEvent is wrapped by every NewRow error.
var ErrInvalidEvent = errors.New("invalid liquidation event")

// InvalidEventError says which field of which event NewRow rejected.
type InvalidEventError struct {
	EventID string
	Field   string
	Reason  string
}

func (e *InvalidEventError) Error() string {
	id := e.EventID
	if id == "" {
		id = "(no event_id)"
	}
	return fmt.Sprintf("%v %s: %s %s", ErrInvalidEvent, id, e.Field, e.Reason)
}

// Unwrap makes errors.Is(err, ErrInvalidEvent) hold.
func (e *InvalidEventError) Unwrap() error { return ErrInvalidEvent }

// Coordinates locate the Kafka record an event came from.
type Coordinates struct {
	Topic     string
	Partition int32
	Offset    int64
}

// Row is one validated event ready to insert. Build it with NewRow.
type Row struct {
	ev *liqstreamv1.LiquidationEvent
	at Coordinates

	blockTime, observedAt           time.Time
	status                          string
	collateralAmount, debtAmount    float64
	collateralUSD, debtUSD          string
	collateralPrice, debtPrice      *string
	bonusUSD, feeUSD                *string
	collateralRaw, debtRaw, feeRaw  string
	collateralSource, debtSource    string
	collateralPriceBlock, debtBlock uint64
}

// Event returns the event the row was built from.
func (r Row) Event() *liqstreamv1.LiquidationEvent { return r.ev }

// Day returns the UTC day of the event's block, the rollup bucket it touches.
func (r Row) Day() time.Time {
	y, m, d := r.blockTime.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Limits of ClickHouse types the row must fit.
var (
	// DateTime covers 1970-01-01 .. 2105-12-31.
	minTime = time.Unix(1, 0).UTC()
	maxTime = time.Date(2105, 12, 31, 0, 0, 0, 0, time.UTC)
	// Decimal(38, 8) holds values below 10^30.
	maxUSD = new(big.Int).Exp(big.NewInt(10), big.NewInt(38), nil)
	// uint256 amounts.
	maxUint256 = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))
)

// NewRow validates ev and converts it for the liquidations table. It rejects
// (ErrInvalidEvent) what the contract forbids or ClickHouse cannot hold: no
// event_id or chain, a status other than CONFIRMED/RETRACTED, a block time
// outside DateTime's range, amounts that are not uint256 decimals, USD values
// that are not non-negative 8-decimal numbers below 10^30. Empty USD values
// of an unpriced event store as 0 (collateral_usd, debt_usd) or NULL (prices,
// bonus, fee).
func NewRow(ev *liqstreamv1.LiquidationEvent, at Coordinates) (Row, error) {
	bad := func(field, reason string) (Row, error) {
		return Row{}, &InvalidEventError{EventID: ev.GetEventId(), Field: field, Reason: reason}
	}
	if ev == nil {
		return bad("event", "is nil")
	}
	if ev.GetEventId() == "" {
		return bad("event_id", "is empty")
	}
	if ev.GetChainId() == 0 {
		return bad("chain_id", "is 0")
	}
	if ev.GetTxHash() == "" {
		return bad("tx_hash", "is empty")
	}
	r := Row{ev: ev, at: at}
	switch ev.GetStatus() {
	case liqstreamv1.Status_STATUS_CONFIRMED:
		r.status = "CONFIRMED"
	case liqstreamv1.Status_STATUS_RETRACTED:
		r.status = "RETRACTED"
	default:
		return bad("status", fmt.Sprintf("is %v, want CONFIRMED or RETRACTED", ev.GetStatus()))
	}
	if ev.GetBlockTime() == nil || ev.GetBlockTime().CheckValid() != nil {
		return bad("block_time", "is missing or invalid")
	}
	r.blockTime = ev.GetBlockTime().AsTime().UTC().Truncate(time.Second)
	if r.blockTime.Before(minTime) || r.blockTime.After(maxTime) {
		return bad("block_time", fmt.Sprintf("%s is outside 1970..2105", r.blockTime))
	}
	if ts := ev.GetObservedAt(); ts != nil && ts.CheckValid() == nil {
		if t := ts.AsTime().UTC().Truncate(time.Second); !t.Before(minTime) && !t.After(maxTime) {
			r.observedAt = t
		}
	}
	if r.observedAt.IsZero() {
		r.observedAt = minTime
	}

	var err error
	var a *big.Int
	if r.collateralRaw, a, err = amount(ev.GetLiquidatedCollateralAmount(), r.status == "RETRACTED"); err != nil {
		return bad("liquidated_collateral_amount", err.Error())
	}
	r.collateralAmount = scaled(a, ev.GetCollateralAsset().GetDecimals())
	if r.debtRaw, a, err = amount(ev.GetDebtToCover(), r.status == "RETRACTED"); err != nil {
		return bad("debt_to_cover", err.Error())
	}
	r.debtAmount = scaled(a, ev.GetDebtAsset().GetDecimals())
	if r.feeRaw, _, err = amount(ev.GetProtocolFeeAmount(), true); err != nil {
		return bad("protocol_fee_amount", err.Error())
	}

	for _, f := range []struct {
		name     string
		in       string
		nullable bool
		out      *string
		outNull  **string
	}{
		{name: "collateral_usd", in: ev.GetCollateralUsd(), out: &r.collateralUSD},
		{name: "debt_usd", in: ev.GetDebtUsd(), out: &r.debtUSD},
		{name: "collateral_price.usd", in: ev.GetCollateralPrice().GetUsd(), nullable: true, outNull: &r.collateralPrice},
		{name: "debt_price.usd", in: ev.GetDebtPrice().GetUsd(), nullable: true, outNull: &r.debtPrice},
		{name: "bonus_usd", in: ev.GetBonusUsd(), nullable: true, outNull: &r.bonusUSD},
		{name: "protocol_fee_usd", in: ev.GetProtocolFeeUsd(), nullable: true, outNull: &r.feeUSD},
	} {
		s, err := usdValue(f.in)
		if err != nil {
			return bad(f.name, err.Error())
		}
		switch {
		case !f.nullable && s == nil:
			*f.out = "0"
		case !f.nullable:
			*f.out = *s
		default:
			*f.outNull = s
		}
	}
	r.collateralSource = priceSource(ev.GetCollateralPrice().GetSource())
	r.debtSource = priceSource(ev.GetDebtPrice().GetSource())
	r.collateralPriceBlock = ev.GetCollateralPrice().GetBlockNumber()
	r.debtBlock = ev.GetDebtPrice().GetBlockNumber()
	return r, nil
}

// amount checks a uint256 decimal; empty is allowed only when optional.
func amount(s string, optional bool) (string, *big.Int, error) {
	if s == "" {
		if optional {
			return "", nil, nil
		}
		return "", nil, errors.New("is empty, want a uint256 decimal")
	}
	v, ok := new(big.Int).SetString(s, 10)
	if !ok || v.Sign() < 0 || v.Cmp(maxUint256) > 0 || strings.ContainsAny(s, "+_") {
		return "", nil, fmt.Errorf("%q is not a uint256 decimal", s)
	}
	return v.String(), v, nil
}

// scaled approximates raw / 10^decimals as a float64 for convenience columns.
func scaled(raw *big.Int, decimals uint32) float64 {
	if raw == nil {
		return 0
	}
	f := new(big.Float).SetInt(raw)
	if decimals > 0 && decimals <= 77 {
		f.Quo(f, new(big.Float).SetInt(usd.Pow10(uint8(decimals))))
	}
	v, _ := f.Float64()
	return v
}

// usdValue returns the canonical 8-decimal text of s, nil for empty.
func usdValue(s string) (*string, error) {
	if s == "" {
		return nil, nil
	}
	v, err := usd.Parse(s)
	if err != nil {
		return nil, err
	}
	if v.Sign() < 0 {
		return nil, fmt.Errorf("%q is negative", s)
	}
	if v.Cmp(maxUSD) >= 0 {
		return nil, fmt.Errorf("%q does not fit Decimal(38, 8)", s)
	}
	out := usd.Format(v)
	return &out, nil
}

func priceSource(s liqstreamv1.PriceSource) string {
	switch s {
	case liqstreamv1.PriceSource_PRICE_SOURCE_ORACLE_AT_BLOCK:
		return "ORACLE_AT_BLOCK"
	case liqstreamv1.PriceSource_PRICE_SOURCE_ORACLE_LATEST:
		return "ORACLE_LATEST"
	default:
		return ""
	}
}
