package store

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
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
	collateralUSD, debtUSD          decimal8
	collateralPrice, debtPrice      nullDecimal8
	bonusUSD, feeUSD                nullDecimal8
	collateralRaw, debtRaw, feeRaw  string
	collateralSource, debtSource    string
	collateralPriceBlock, debtBlock uint64
	// tombstone marks a row the store derived (see tombstones), not a
	// consumed record.
	tombstone bool
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
	var a amountValue
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

	// Field by field, not through a table of pointers into r: those made r
	// escape, one heap copy of every row.
	var v nullDecimal8
	if v, err = usdValue(ev.GetCollateralUsd()); err != nil {
		return bad("collateral_usd", err.Error())
	}
	r.collateralUSD = v.v // empty: 0
	if v, err = usdValue(ev.GetDebtUsd()); err != nil {
		return bad("debt_usd", err.Error())
	}
	r.debtUSD = v.v
	if r.collateralPrice, err = usdValue(ev.GetCollateralPrice().GetUsd()); err != nil {
		return bad("collateral_price.usd", err.Error())
	}
	if r.debtPrice, err = usdValue(ev.GetDebtPrice().GetUsd()); err != nil {
		return bad("debt_price.usd", err.Error())
	}
	if r.bonusUSD, err = usdValue(ev.GetBonusUsd()); err != nil {
		return bad("bonus_usd", err.Error())
	}
	if r.feeUSD, err = usdValue(ev.GetProtocolFeeUsd()); err != nil {
		return bad("protocol_fee_usd", err.Error())
	}
	r.collateralSource = priceSource(ev.GetCollateralPrice().GetSource())
	r.debtSource = priceSource(ev.GetDebtPrice().GetSource())
	r.collateralPriceBlock = ev.GetCollateralPrice().GetBlockNumber()
	r.debtBlock = ev.GetDebtPrice().GetBlockNumber()
	return r, nil
}

// amount checks a uint256 decimal and returns its canonical text (no
// leading zeros) and value; empty is allowed only when optional. Values of
// up to 19 digits (all real token amounts but the largest) are parsed into a
// uint64; longer ones are checked digit by digit against 2^256 - 1 and kept
// as text, with no math/big. FuzzAmount holds both to big.Int.
func amount(s string, optional bool) (string, amountValue, error) {
	if s == "" {
		if optional {
			return "", amountValue{}, nil
		}
		return "", amountValue{}, errors.New("is empty, want a uint256 decimal")
	}
	if !digitsOnly(s) {
		return "", amountValue{}, fmt.Errorf("%q is not a uint256 decimal", s)
	}
	t := strings.TrimLeft(s, "0")
	if t == "" {
		t = "0"
	}
	if len(t) <= 19 { // 19 digits always fit a uint64
		u, err := strconv.ParseUint(t, 10, 64)
		if err != nil {
			return "", amountValue{}, fmt.Errorf("%q is not a uint256 decimal: %w", s, err)
		}
		return t, amountValue{small: u, ok: true}, nil
	}
	if len(t) > len(maxUint256Text) || (len(t) == len(maxUint256Text) && t > maxUint256Text) {
		return "", amountValue{}, fmt.Errorf("%q is not a uint256 decimal: above 2^256 - 1", s)
	}
	return t, amountValue{digits: t, ok: true}, nil
}

// maxUint256Text is 2^256 - 1 in decimal: a uint256 of 78 digits is valid
// when it does not compare above it.
var maxUint256Text = maxUint256.String()

// amountValue is a parsed uint256: small when it fits 19 digits, else its
// canonical decimal digits.
type amountValue struct {
	small  uint64
	digits string
	ok     bool
}

// pow10f holds the powers of ten float64 represents exactly.
var pow10f = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// scaled is raw / 10^decimals as the float64 nearest to it, for convenience
// columns (decimals above 77, which no token has, are not divided). When raw
// and 10^decimals are exact float64s one IEEE division gives the nearest
// quotient; otherwise strconv.ParseFloat reads the digits with the exponent
// "e-decimals", rounding once.
func scaled(raw amountValue, decimals uint32) float64 {
	if !raw.ok {
		return 0
	}
	if decimals > 77 {
		decimals = 0
	}
	if raw.digits == "" && raw.small < 1<<53 && int(decimals) < len(pow10f) {
		return float64(raw.small) / pow10f[decimals]
	}
	var buf [100]byte
	b := buf[:0]
	if raw.digits != "" {
		b = append(b, raw.digits...)
	} else {
		b = strconv.AppendUint(b, raw.small, 10)
	}
	b = append(b, 'e', '-')
	b = strconv.AppendUint(b, uint64(decimals), 10)
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil { // out of float64's range: a uint256 is not
		return 0
	}
	return v
}

// usdValue returns s as a Decimal(38, 8) value, NULL for empty. It accepts
// exactly what usd.Parse accepts, minus negative values and values that do not
// fit Decimal(38, 8).
func usdValue(s string) (nullDecimal8, error) {
	if s == "" {
		return nullDecimal8{}, nil
	}
	if e8, ok := parseE8(s); ok {
		if e8 < 0 {
			return nullDecimal8{}, fmt.Errorf("%q is negative", s)
		}
		return nullDecimal8{v: decimal8FromE8(e8), valid: true}, nil
	}
	v, err := usd.Parse(s)
	if err != nil {
		return nullDecimal8{}, err
	}
	if v.Sign() < 0 {
		return nullDecimal8{}, fmt.Errorf("%q is negative", s)
	}
	if v.Cmp(maxUSD) >= 0 {
		return nullDecimal8{}, fmt.Errorf("%q does not fit Decimal(38, 8)", s)
	}
	return nullDecimal8{v: decimal8FromBig(v), valid: true}, nil
}

// parseE8 is the fast path of usd.Parse: it reads s in 1e-8 USD when s has
// usd.Parse's syntax ("-"? digits ("." 1..8 digits)?) and the value fits
// an int64 (below about 92 billion USD). ok is false otherwise, including for
// every input usd.Parse rejects, and the caller falls back to usd.Parse. The
// differential fuzz test FuzzParseE8 holds the two to the same answers.
func parseE8(s string) (e8 int64, ok bool) {
	i, neg := 0, false
	if i < len(s) && s[0] == '-' {
		neg, i = true, 1
	}
	var v uint64
	intDigits := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if v > (math.MaxInt64/10 - 9) { // may overflow: let usd.Parse decide
			return 0, false
		}
		v = v*10 + uint64(s[i]-'0')
		intDigits++
	}
	if intDigits == 0 {
		return 0, false
	}
	frac := 0
	if i < len(s) && s[i] == '.' {
		i++
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			if frac == usd.Decimals || v > (math.MaxInt64/10-9) {
				return 0, false
			}
			v = v*10 + uint64(s[i]-'0')
			frac++
		}
		if frac == 0 {
			return 0, false
		}
	}
	if i != len(s) {
		return 0, false
	}
	for ; frac < usd.Decimals; frac++ {
		if v > math.MaxInt64/10 {
			return 0, false
		}
		v *= 10
	}
	if neg {
		return -int64(v), true
	}
	return int64(v), true
}

func digitsOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
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
