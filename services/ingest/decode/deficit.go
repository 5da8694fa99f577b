package decode

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/holiman/uint256"
)

// TopicDeficitCreated is Aave V3.3+'s
// keccak256("DeficitCreated(address,address,uint256)"): bad debt written off
// in a liquidation's transaction.
var TopicDeficitCreated = common.HexToHash("0x2bccfb3fad376d59d7accf970515eb77b2f27b082c90ed0fb15583dd5a942699")

// DeficitCreated is one decoded DeficitCreated(address indexed user, address
// indexed debtAsset, uint256 amountCreated) log.
type DeficitCreated struct {
	User      common.Address
	DebtAsset common.Address
	// AmountCreated is the debt written off, in debt-asset base units.
	AmountCreated uint256.Int
}

func deficitErr(field string, err error) *Error {
	return &Error{Event: "DeficitCreated", Field: field, Err: err}
}

var (
	errDefTopic0  = deficitErr("topic0", ErrUnknownTopic0)
	errDefTopics  = deficitErr("topics", ErrTopicCount)
	errDefShort   = deficitErr("data", ErrShortData)
	errDefLong    = deficitErr("data", ErrLongData)
	errDefUser    = deficitErr("user", ErrNonCanonicalAddress)
	errDefDebt    = deficitErr("debtAsset", ErrNonCanonicalAddress)
	errDefRemoved = deficitErr("log", ErrRemoved)
)

// DecodeDeficit fills out from a DeficitCreated log: two indexed topics after
// topic0 and one data word.
func DecodeDeficit(topics []common.Hash, data []byte, out *DeficitCreated) error {
	if len(topics) == 0 {
		return errDefTopics
	}
	if topics[0] != TopicDeficitCreated {
		return errDefTopic0
	}
	if len(topics) != 3 {
		return errDefTopics
	}
	if len(data) < 32 {
		return errDefShort
	}
	if len(data) > 32 {
		return errDefLong
	}
	if !addressWord(topics[1][:], &out.User) {
		return errDefUser
	}
	if !addressWord(topics[2][:], &out.DebtAsset) {
		return errDefDebt
	}
	out.AmountCreated.SetBytes32(data)
	return nil
}

// DecodeLogDeficit is DecodeDeficit for a go-ethereum log; a removed log is
// an error.
func DecodeLogDeficit(l *types.Log, out *DeficitCreated) error {
	if l.Removed {
		return errDefRemoved
	}
	return DecodeDeficit(l.Topics, l.Data, out)
}
