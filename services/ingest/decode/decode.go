package decode

import (
	"errors"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/holiman/uint256"
)

// TopicLiquidationCall is keccak256("LiquidationCall(address,address,address,uint256,uint256,address,bool)").
var TopicLiquidationCall = common.HexToHash("0xe413a321e8681d831f4dbccbca790d2952b56f977908e45be37335533e005286")

// dataLen is the length of the non-indexed part: four 32-byte words.
const dataLen = 4 * 32

// Sentinels wrapped by every decoding error; test with errors.Is.
var (
	ErrUnknownTopic0       = errors.New("unknown topic0")
	ErrTopicCount          = errors.New("wrong topic count")
	ErrShortData           = errors.New("data shorter than 4 words")
	ErrLongData            = errors.New("data longer than 4 words")
	ErrNonCanonicalAddress = errors.New("address word has non-zero padding")
	ErrNonCanonicalBool    = errors.New("bool word is neither 0 nor 1")
	ErrRemoved             = errors.New("log was removed by a reorg")
	// ErrAbsurdAmount flags an amount no real token reaches (above
	// MaxPlausibleBits bits): the log is well-formed but not believable.
	ErrAbsurdAmount = errors.New("amount above 2^200 base units is implausible")
)

// MaxPlausibleBits bounds plausible token amounts: 2^200 base units is far
// above any real supply (10^60 at 18 decimals), so a larger amount is a
// forged or corrupted log rather than a liquidation.
const MaxPlausibleBits = 200

// Error is a decoding failure: which part of the log was wrong and why.
type Error struct {
	// Event names the decoded event; empty means "LiquidationCall".
	Event string
	// Field names the offending part: "topic0", "topics", "data",
	// "collateralAsset", "debtAsset", "user", "liquidator", "receiveAToken"
	// or "log".
	Field string
	Err   error
}

func (e *Error) Error() string {
	ev := e.Event
	if ev == "" {
		ev = "LiquidationCall"
	}
	return "decoding " + ev + " " + e.Field + ": " + e.Err.Error()
}

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.Err }

// Reason returns a short stable label for a decoding error, for metrics and
// dead-letter headers: "unknown_topic0", "topic_count", "short_data",
// "long_data", "non_canonical_address", "non_canonical_bool", "removed",
// "absurd_amount", or "other".
func Reason(err error) string {
	switch {
	case errors.Is(err, ErrUnknownTopic0):
		return "unknown_topic0"
	case errors.Is(err, ErrTopicCount):
		return "topic_count"
	case errors.Is(err, ErrShortData):
		return "short_data"
	case errors.Is(err, ErrLongData):
		return "long_data"
	case errors.Is(err, ErrNonCanonicalAddress):
		return "non_canonical_address"
	case errors.Is(err, ErrNonCanonicalBool):
		return "non_canonical_bool"
	case errors.Is(err, ErrRemoved):
		return "removed"
	case errors.Is(err, ErrAbsurdAmount):
		return "absurd_amount"
	default:
		return "other"
	}
}

// LiquidationCall is one decoded event. Amounts are raw base units.
type LiquidationCall struct {
	Collateral           common.Address
	Debt                 common.Address
	Borrower             common.Address
	Liquidator           common.Address
	DebtToCover          uint256.Int
	LiquidatedCollateral uint256.Int
	ReceiveAToken        bool
}

// Preallocated errors keep the failure path allocation-free too; they are
// never mutated.
var (
	errTopic0     = &Error{Field: "topic0", Err: ErrUnknownTopic0}
	errTopics     = &Error{Field: "topics", Err: ErrTopicCount}
	errShort      = &Error{Field: "data", Err: ErrShortData}
	errLong       = &Error{Field: "data", Err: ErrLongData}
	errCollateral = &Error{Field: "collateralAsset", Err: ErrNonCanonicalAddress}
	errDebt       = &Error{Field: "debtAsset", Err: ErrNonCanonicalAddress}
	errUser       = &Error{Field: "user", Err: ErrNonCanonicalAddress}
	errLiquidator = &Error{Field: "liquidator", Err: ErrNonCanonicalAddress}
	errBool       = &Error{Field: "receiveAToken", Err: ErrNonCanonicalBool}
	errRemoved    = &Error{Field: "log", Err: ErrRemoved}
)

// Decode fills out from a log's topics and data. out is left partially
// written when an error is returned.
func Decode(topics []common.Hash, data []byte, out *LiquidationCall) error {
	if len(topics) == 0 || topics[0] != TopicLiquidationCall {
		if len(topics) == 0 {
			return errTopics
		}
		return errTopic0
	}
	if len(topics) != 4 {
		return errTopics
	}
	if len(data) < dataLen {
		return errShort
	}
	if len(data) > dataLen {
		return errLong
	}
	if !addressWord(topics[1][:], &out.Collateral) {
		return errCollateral
	}
	if !addressWord(topics[2][:], &out.Debt) {
		return errDebt
	}
	if !addressWord(topics[3][:], &out.Borrower) {
		return errUser
	}
	out.DebtToCover.SetBytes32(data[0:32])
	out.LiquidatedCollateral.SetBytes32(data[32:64])
	if !addressWord(data[64:96], &out.Liquidator) {
		return errLiquidator
	}
	w := data[96:128]
	if !zero(w[:31]) || w[31] > 1 {
		return errBool
	}
	out.ReceiveAToken = w[31] == 1
	return nil
}

// DecodeLog is Decode for a go-ethereum log; a log removed by a reorg is an
// error rather than an event.
func DecodeLog(l *types.Log, out *LiquidationCall) error {
	if l.Removed {
		return errRemoved
	}
	return Decode(l.Topics, l.Data, out)
}

// addressWord copies the low 20 bytes of a 32-byte word into a and reports
// whether the 12 padding bytes are zero.
func addressWord(w []byte, a *common.Address) bool {
	if !zero(w[:12]) {
		return false
	}
	copy(a[:], w[12:32])
	return true
}

func zero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
