package faults

import (
	"encoding/binary"
	"encoding/json"
	"hash/fnv"
	"maps"
	"strconv"
	"strings"

	"github.com/liqstream/liqstream/services/chainsim/sim"
)

// Corruptions of BadLogRate, named like the decoder's dead-letter reasons
// (package decode of ingest): what a consumer must report for each.
var corruptions = []string{"topic_count", "short_data", "long_data", "removed", "absurd_amount", "non_canonical_address"}

// BadLogs returns the logs corrupted so far, "<tx hash>:<log index>" (hash
// lower-case, index decimal) → the corruption, one of topic_count,
// short_data, long_data, removed, absurd_amount, non_canonical_address.
func (in *Injector) BadLogs() map[string]string {
	in.badMu.Lock()
	defer in.badMu.Unlock()
	return maps.Clone(in.badLogs)
}

// corruption picks what happens to the log at (tx, index): "" for nothing.
func (in *Injector) corruption(tx string, index uint64) string {
	h := fnv.New64a()
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(in.cfg.Seed))
	binary.BigEndian.PutUint64(b[8:], index)
	h.Write(b[:])
	h.Write([]byte(strings.ToLower(tx)))
	x := h.Sum64()
	if float64(x>>11)/(1<<53) >= in.cfg.BadLogRate {
		return ""
	}
	return corruptions[(x&0x7ff)%uint64(len(corruptions))]
}

// corruptLogs rewrites the LiquidationCall logs BadLogRate picks in an
// eth_getLogs result; anything it cannot parse passes unchanged.
func (in *Injector) corruptLogs(result json.RawMessage) json.RawMessage {
	var logs []map[string]json.RawMessage
	if json.Unmarshal(result, &logs) != nil {
		return result
	}
	changed := false
	for _, l := range logs {
		var topics []string
		var tx, data, idx string
		if json.Unmarshal(l["topics"], &topics) != nil || json.Unmarshal(l["transactionHash"], &tx) != nil ||
			json.Unmarshal(l["data"], &data) != nil || json.Unmarshal(l["logIndex"], &idx) != nil ||
			len(topics) != 4 || !strings.EqualFold(topics[0], sim.TopicLiquidationCall.Hex()) || len(data) < 2+64 {
			continue
		}
		index, err := strconv.ParseUint(strings.TrimPrefix(idx, "0x"), 16, 64)
		if err != nil {
			continue
		}
		kind := in.corruption(tx, index)
		switch kind {
		case "":
			continue
		case "topic_count":
			topics = topics[:3]
		case "short_data":
			data = data[:len(data)-64]
		case "long_data":
			data += strings.Repeat("0", 64)
		case "removed":
			l["removed"] = json.RawMessage("true")
		case "absurd_amount":
			// debtToCover (the first data word) = 2^256 - 1.
			data = "0x" + strings.Repeat("f", 64) + data[2+64:]
		case "non_canonical_address":
			// The borrower topic gets a non-zero byte in its padding.
			topics[3] = "0x01" + topics[3][4:]
		}
		l["topics"], _ = json.Marshal(topics)
		l["data"], _ = json.Marshal(data)
		changed = true
		in.badMu.Lock()
		in.badLogs[strings.ToLower(tx)+":"+strconv.FormatUint(index, 10)] = kind
		in.badMu.Unlock()
	}
	if !changed {
		return result
	}
	out, err := json.Marshal(logs)
	if err != nil {
		return result
	}
	return out
}
