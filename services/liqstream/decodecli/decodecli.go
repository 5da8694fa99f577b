package decodecli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/liqstream/liqstream/services/ingest/decode"
	"github.com/liqstream/liqstream/services/ingest/protocol"
	"github.com/liqstream/liqstream/services/lib/chains"
)

// maxLine bounds one input line (a log object); real logs are a few KB.
const maxLine = 8 << 20

// Stats counts a run's outcome.
type Stats struct {
	Decoded, Failed int
}

// Run decodes every log read from in for chain ch, writing one JSON event per
// line to out and one error line per undecodable log to errOut. It returns an
// error only when in cannot be read or out cannot be written; bad logs are
// counted in Stats.Failed.
func Run(ctx context.Context, ch chains.Chain, in io.Reader, out, errOut io.Writer) (Stats, error) {
	var ms []protocol.Market
	for _, m := range chains.Default().Markets(ch.ID, "") {
		pm, err := protocol.FromRegistry(m)
		if err != nil {
			return Stats{}, err
		}
		ms = append(ms, pm)
	}
	set, err := protocol.NewSet(ms)
	if err != nil {
		return Stats{}, err
	}
	d := &decoder{ch: ch, set: set, out: bufio.NewWriter(out), errOut: errOut}
	defer d.out.Flush()
	br := bufio.NewReaderSize(in, 64<<10)
	first, err := firstByte(br)
	if err == io.EOF {
		return d.stats, nil
	}
	if err != nil {
		return d.stats, fmt.Errorf("reading input: %w", err)
	}
	if first == '[' {
		var items []json.RawMessage
		if err := json.NewDecoder(br).Decode(&items); err != nil {
			return d.stats, fmt.Errorf("input starts with '[' but is not a JSON array of log objects: %w", err)
		}
		for i, raw := range items {
			if ctx.Err() != nil {
				return d.stats, ctx.Err()
			}
			d.one(fmt.Sprintf("item %d", i), raw)
		}
		return d.stats, d.out.Flush()
	}
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	for n := 1; sc.Scan(); n++ {
		if ctx.Err() != nil {
			return d.stats, ctx.Err()
		}
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		d.one(fmt.Sprintf("line %d", n), line)
	}
	if err := sc.Err(); err != nil {
		return d.stats, fmt.Errorf("reading input: %w", err)
	}
	return d.stats, d.out.Flush()
}

func firstByte(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		if b != ' ' && b != '\t' && b != '\n' && b != '\r' {
			return b, br.UnreadByte()
		}
	}
}

type decoder struct {
	ch     chains.Chain
	set    *protocol.Set
	out    *bufio.Writer
	errOut io.Writer
	stats  Stats
}

// rpcLog is an eth_getLogs result object. Only address, topics and data are
// required; position fields are optional so hand-made logs decode too.
type rpcLog struct {
	Address     *common.Address `json:"address"`
	Topics      *[]common.Hash  `json:"topics"`
	Data        *hexutil.Bytes  `json:"data"`
	BlockNumber *hexutil.Uint64 `json:"blockNumber"`
	BlockHash   common.Hash     `json:"blockHash"`
	TxHash      common.Hash     `json:"transactionHash"`
	TxIndex     hexutil.Uint    `json:"transactionIndex"`
	Index       hexutil.Uint    `json:"logIndex"`
	Removed     bool            `json:"removed"`
}

func (r *rpcLog) log() *types.Log {
	l := &types.Log{Address: *r.Address, Topics: *r.Topics, Data: *r.Data, BlockHash: r.BlockHash,
		TxHash: r.TxHash, TxIndex: uint(r.TxIndex), Index: uint(r.Index), Removed: r.Removed}
	if r.BlockNumber != nil {
		l.BlockNumber = uint64(*r.BlockNumber)
	}
	return l
}

func (d *decoder) fail(where string, l *types.Log, reason string) {
	d.stats.Failed++
	if l == nil {
		fmt.Fprintf(d.errOut, "liqstream decode: %s on %s: %s\n", where, d.ch.Slug, reason)
		return
	}
	fmt.Fprintf(d.errOut, "liqstream decode: %s on %s: block %d tx %s log index %d: %s\n",
		where, d.ch.Slug, l.BlockNumber, strings.ToLower(l.TxHash.Hex()), l.Index, reason)
}

func (d *decoder) one(where string, raw []byte) {
	var r rpcLog
	if err := json.Unmarshal(raw, &r); err != nil {
		d.fail(where, nil, "not a log object: "+err.Error())
		return
	}
	var missing []string
	if r.Address == nil {
		missing = append(missing, "address")
	}
	if r.Topics == nil {
		missing = append(missing, "topics")
	}
	if r.Data == nil {
		missing = append(missing, "data")
	}
	if len(missing) > 0 {
		d.fail(where, nil, "log object lacks "+strings.Join(missing, ", "))
		return
	}
	l := r.log()
	dec, err := d.set.Decode(l)
	if err != nil {
		d.fail(where, l, fmt.Sprintf("%v (reason %s)", err, decode.Reason(err)))
		return
	}
	ch := protocol.Chain{ID: d.ch.ID, Slug: d.ch.Slug}
	var msg proto.Message
	if dec.Kind == protocol.KindDeficit {
		// Offline there is no range to link within; the input is linked
		// against itself only when the liquidation comes in the same run,
		// which a streaming decoder cannot know, so the link stays empty.
		msg = protocol.DeficitRecord(ch, &dec, l, "")
	} else {
		msg = protocol.LiquidationRecord(ch, &dec, l)
	}
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(msg)
	if err == nil {
		var buf bytes.Buffer
		if err = json.Compact(&buf, b); err == nil {
			b = buf.Bytes()
		}
	}
	if err != nil {
		d.fail(where, l, "encoding the event: "+err.Error())
		return
	}
	d.stats.Decoded++
	d.out.Write(b)
	d.out.WriteByte('\n')
}
