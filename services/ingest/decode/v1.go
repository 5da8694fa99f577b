package decode

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/holiman/uint256"
)

// TopicLiquidationCallV1 is Aave V1's
// keccak256("LiquidationCall(address,address,address,uint256,uint256,uint256,address,bool,uint256)").
var TopicLiquidationCallV1 = common.HexToHash("0x56864757fd5b1fc9f38f5f3a981cd8ae512ce41b902cf73fc506ee369c6bc237")

// ETHPlaceholder is the address Aave V1 uses for native ETH as a reserve.
var ETHPlaceholder = common.HexToAddress("0xEeeeeEeeeEeEeeEeEeEeeEEEeeeeEeeeeeeeEEeE")

// dataLenV1 is V1's non-indexed part: six words.
const dataLenV1 = 6 * 32

// LiquidationCallV1 is one decoded Aave V1 LiquidationCall. Amounts are raw
// base units.
type LiquidationCallV1 struct {
	Collateral common.Address // _collateral, topics[1]
	Reserve    common.Address // _reserve: the debt asset, topics[2]
	Borrower   common.Address // _user, topics[3]
	// PurchaseAmount is the debt repaid.
	PurchaseAmount        uint256.Int
	LiquidatedCollateral  uint256.Int
	AccruedBorrowInterest uint256.Int
	Liquidator            common.Address
	ReceiveAToken         bool
	// Timestamp is the block timestamp the pool recorded.
	Timestamp uint256.Int
}

func v1Err(field string, err error) *Error {
	return &Error{Event: "LiquidationCall(V1)", Field: field, Err: err}
}

var (
	errV1Topic0     = v1Err("topic0", ErrUnknownTopic0)
	errV1Topics     = v1Err("topics", ErrTopicCount)
	errV1Short      = v1Err("data", ErrShortData)
	errV1Long       = v1Err("data", ErrLongData)
	errV1Collateral = v1Err("_collateral", ErrNonCanonicalAddress)
	errV1Reserve    = v1Err("_reserve", ErrNonCanonicalAddress)
	errV1User       = v1Err("_user", ErrNonCanonicalAddress)
	errV1Liquidator = v1Err("_liquidator", ErrNonCanonicalAddress)
	errV1Bool       = v1Err("_receiveAToken", ErrNonCanonicalBool)
	errV1Removed    = v1Err("log", ErrRemoved)
)

// DecodeV1 fills out from an Aave V1 LiquidationCall log: three topics after
// topic0 and six data words (_purchaseAmount, _liquidatedCollateralAmount,
// _accruedBorrowInterest, _liquidator, _receiveAToken, _timestamp).
func DecodeV1(topics []common.Hash, data []byte, out *LiquidationCallV1) error {
	if len(topics) == 0 {
		return errV1Topics
	}
	if topics[0] != TopicLiquidationCallV1 {
		return errV1Topic0
	}
	if len(topics) != 4 {
		return errV1Topics
	}
	if len(data) < dataLenV1 {
		return errV1Short
	}
	if len(data) > dataLenV1 {
		return errV1Long
	}
	if !addressWord(topics[1][:], &out.Collateral) {
		return errV1Collateral
	}
	if !addressWord(topics[2][:], &out.Reserve) {
		return errV1Reserve
	}
	if !addressWord(topics[3][:], &out.Borrower) {
		return errV1User
	}
	out.PurchaseAmount.SetBytes32(data[0:32])
	out.LiquidatedCollateral.SetBytes32(data[32:64])
	out.AccruedBorrowInterest.SetBytes32(data[64:96])
	if !addressWord(data[96:128], &out.Liquidator) {
		return errV1Liquidator
	}
	w := data[128:160]
	if !zero(w[:31]) || w[31] > 1 {
		return errV1Bool
	}
	out.ReceiveAToken = w[31] == 1
	out.Timestamp.SetBytes32(data[160:192])
	return nil
}

// DecodeLogV1 is DecodeV1 for a go-ethereum log; a removed log is an error.
func DecodeLogV1(l *types.Log, out *LiquidationCallV1) error {
	if l.Removed {
		return errV1Removed
	}
	return DecodeV1(l.Topics, l.Data, out)
}
