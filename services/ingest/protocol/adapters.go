package protocol

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/holiman/uint256"

	"github.com/liqstream/liqstream/services/ingest/decode"
)

// Kind says what a decoded log is.
type Kind uint8

// Kinds of Event.
const (
	KindLiquidation Kind = iota + 1
	KindDeficit
)

// Liquidation is a protocol-neutral liquidation. Amounts are raw base units.
type Liquidation struct {
	Collateral, Debt, Borrower, Liquidator common.Address
	// DebtToCover is the debt repaid (V1: _purchaseAmount).
	DebtToCover uint256.Int
	// LiquidatedCollateral is the collateral the liquidator received; with a
	// protocol fee (V3, Spark) it excludes the fee.
	LiquidatedCollateral uint256.Int
	ReceiveAToken        bool
}

// Deficit is bad debt written off (Aave V3.3+ DeficitCreated).
type Deficit struct {
	Borrower, DebtAsset common.Address
	Amount              uint256.Int
}

// Event is one decoded log: Liquidation when Kind is KindLiquidation, Deficit
// when it is KindDeficit.
type Event struct {
	Kind        Kind
	Liquidation Liquidation
	Deficit     Deficit
}

// Adapter decodes one protocol's logs.
type Adapter interface {
	// Name is the protocol label on every record, e.g. "aave-v3".
	Name() string
	// MethodVersion is stamped on every record, e.g. "aave-v3/1".
	MethodVersion() string
	// Topics are the topic0s the adapter decodes, for the eth_getLogs filter.
	Topics() []common.Hash
	// ProtocolFee reports whether liquidations send a protocol fee to the
	// treasury that LiquidatedCollateral excludes.
	ProtocolFee() bool
	// Decode decodes one log into out; errors wrap decode's sentinels.
	Decode(l *types.Log, out *Event) error
}

// adapters is the one table of protocol adapters, keyed by protocol label
// (the "protocol" of a market in lib/chains, default "aave-<version>").
var adapters = map[string]Adapter{
	"aave-v3": aaveV3{},
	"spark":   spark{},
	"aave-v2": aaveV2{},
	"aave-v1": aaveV1{},
}

// ErrUnknownProtocol is returned for a protocol label no adapter serves.
var ErrUnknownProtocol = errors.New("no adapter for protocol")

// ForProtocol returns the adapter of a protocol label.
func ForProtocol(name string) (Adapter, error) {
	a, ok := adapters[name]
	if !ok {
		return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownProtocol, name, strings.Join(Names(), ", "))
	}
	return a, nil
}

// Names returns the protocol labels with an adapter, sorted.
func Names() []string {
	out := make([]string, 0, len(adapters))
	for n := range adapters {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// plausible flags amounts above 2^decode.MaxPlausibleBits.
func plausible(event, field string, v *uint256.Int) error {
	if v.BitLen() > decode.MaxPlausibleBits {
		return &decode.Error{Event: event, Field: field, Err: decode.ErrAbsurdAmount}
	}
	return nil
}

// liquidationFromCall converts the shared V2/V3 layout.
func liquidationFromCall(l *types.Log, out *Event) error {
	var lc decode.LiquidationCall
	if err := decode.DecodeLog(l, &lc); err != nil {
		return err
	}
	if err := plausible("LiquidationCall", "debtToCover", &lc.DebtToCover); err != nil {
		return err
	}
	if err := plausible("LiquidationCall", "liquidatedCollateralAmount", &lc.LiquidatedCollateral); err != nil {
		return err
	}
	*out = Event{Kind: KindLiquidation, Liquidation: Liquidation{
		Collateral: lc.Collateral, Debt: lc.Debt, Borrower: lc.Borrower, Liquidator: lc.Liquidator,
		DebtToCover: lc.DebtToCover, LiquidatedCollateral: lc.LiquidatedCollateral, ReceiveAToken: lc.ReceiveAToken,
	}}
	return nil
}

// deficitFromLog converts DeficitCreated.
func deficitFromLog(l *types.Log, out *Event) error {
	var d decode.DeficitCreated
	if err := decode.DecodeLogDeficit(l, &d); err != nil {
		return err
	}
	if err := plausible("DeficitCreated", "amountCreated", &d.AmountCreated); err != nil {
		return err
	}
	*out = Event{Kind: KindDeficit, Deficit: Deficit{Borrower: d.User, DebtAsset: d.DebtAsset, Amount: d.AmountCreated}}
	return nil
}

// topic0 returns the first topic, or the zero hash.
func topic0(l *types.Log) common.Hash {
	if len(l.Topics) == 0 {
		return common.Hash{}
	}
	return l.Topics[0]
}
