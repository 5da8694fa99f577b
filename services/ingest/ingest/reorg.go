package ingest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"google.golang.org/protobuf/proto"

	"github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/ingest/publish"
)

// ErrReorgTooDeep is wrapped by *ReorgTooDeepError.
var ErrReorgTooDeep = errors.New("reorg deeper than the blocks ingest remembers")

// ReorgTooDeepError says that the node's chain no longer contains the
// checkpoint's block and no block ingest remembers publishing is canonical
// either: the reorg is deeper than the in-memory record of published blocks,
// or ingest restarted since publishing them (the record is not persisted).
// Ingest cannot tell which events it published are orphaned, so it stops
// rather than publish a second branch on top of the first.
type ReorgTooDeepError struct {
	Chain string
	// Block and Hash are the committed checkpoint, which is orphaned.
	Block uint64
	Hash  string
}

func (e *ReorgTooDeepError) Error() string {
	return fmt.Sprintf("chain %s: checkpoint block %d (hash %s) is no longer on the node's chain and no remembered block below it is: "+
		"a reorg deeper than ingest's record of published blocks (or one that happened while ingest was stopped); "+
		"events published from the fork point on may be orphaned: re-ingest from below the fork with a new kafka.topic_prefix "+
		"(or retract them by hand), and raise confirmations", e.Chain, e.Block, e.Hash)
}

func (e *ReorgTooDeepError) Unwrap() error { return ErrReorgTooDeep }

// recentKeep is how many blocks below the checkpoint the record of
// published blocks covers, as a multiple of the confirmation depth (and at
// least recentMin blocks).
const (
	recentKeepFactor = 4
	recentMin        = 256
)

// recent is the bounded in-memory record of what ingest published: the hash
// of each block that had events or ended a group, the latest version of
// each event, and the latest revision of every event id (retracted ones
// included), for the last blocks below the checkpoint.
type recent struct {
	hashes map[uint64]string
	events map[uint64][]*liqstreamv1.LiquidationEvent
	revs   map[string]revAt
}

type revAt struct {
	rev   uint64
	block uint64
}

func newRecent() *recent {
	return &recent{hashes: map[uint64]string{}, events: map[uint64][]*liqstreamv1.LiquidationEvent{}, revs: map[string]revAt{}}
}

// add records a committed group: its events and its checkpoint.
func (r *recent) add(cp publish.Checkpoint, evs []*liqstreamv1.LiquidationEvent) {
	r.hashes[cp.Block] = cp.Hash
	for _, ev := range evs {
		r.hashes[ev.BlockNumber] = strings.ToLower(ev.BlockHash)
		r.events[ev.BlockNumber] = append(r.events[ev.BlockNumber], ev)
		r.revs[ev.EventId] = revAt{ev.Revision, ev.BlockNumber}
	}
}

// prune forgets blocks below low.
func (r *recent) prune(low uint64) {
	for n := range r.hashes {
		if n < low {
			delete(r.hashes, n)
			delete(r.events, n)
		}
	}
	for id, ra := range r.revs {
		if ra.block < low {
			delete(r.revs, id)
		}
	}
}

// dropAbove forgets the blocks above fork (they were orphaned).
func (r *recent) dropAbove(fork uint64) []*liqstreamv1.LiquidationEvent {
	var out []*liqstreamv1.LiquidationEvent
	for n := range r.hashes {
		if n > fork {
			out = append(out, r.events[n]...)
			delete(r.hashes, n)
			delete(r.events, n)
		}
	}
	return out
}

// sameContent compares two versions of an event, ignoring observation time,
// revision and status.
func sameContent(a, b *liqstreamv1.LiquidationEvent) bool {
	x, y := proto.Clone(a).(*liqstreamv1.LiquidationEvent), proto.Clone(b).(*liqstreamv1.LiquidationEvent)
	x.ObservedAt, y.ObservedAt, x.Revision, y.Revision, x.Status, y.Status = nil, nil, 0, 0, 0, 0
	return proto.Equal(x, y)
}

// handleReorg repairs what was published up to block cp (the checkpoint)
// after the node's chain changed below it: it finds the fork point (the
// highest remembered block whose hash is still canonical), fetches the
// canonical events of (fork, cp], and publishes in one transaction a
// retraction for every orphaned event, a new revision for every event whose
// content changed, the new events, and the checkpoint at cp with its
// canonical hash. When the checkpoint itself is still canonical (the chain
// changed above it while a group was fetched) it only drops the cached
// headers, and the caller fetches the group again.
func (in *Ingester) handleReorg(ctx context.Context, st stage, cp uint64) error {
	known := map[uint64]string{cp: in.cpHash}
	for n, h := range in.recent.hashes {
		if n < cp {
			known[n] = h
		}
	}
	nums := slices.Sorted(maps.Keys(known))
	// Headers are cached by number: the cached ones may be orphaned.
	st.rpc.ForgetHeaders(nums[0])
	hs, err := st.rpc.HeadersBatch(ctx, nums)
	if err != nil {
		return fmt.Errorf("chain %s: walking back to the fork point below block %d: %w", in.r.chain.Slug, cp, err)
	}
	fork, found := uint64(0), false
	for i := len(hs) - 1; i >= 0; i-- {
		if strings.ToLower(hs[i].Hash.Hex()) == known[nums[i]] {
			fork, found = nums[i], true
			break
		}
	}
	if !found {
		return &ReorgTooDeepError{Chain: in.r.chain.Slug, Block: cp, Hash: in.cpHash}
	}
	if fork == cp {
		in.log.Warn("chain changed above the checkpoint while fetching; fetching again", "checkpoint", cp)
		return nil
	}
	attrs := metric.WithAttributes(attribute.String("chain", in.r.chain.Slug))
	in.reorgs.Add(ctx, 1, attrs)
	in.log.Warn("reorg below the checkpoint: repairing published events", "fork", fork, "checkpoint", cp,
		"checkpoint_hash", in.cpHash, "canonical_hash", strings.ToLower(hs[len(hs)-1].Hash.Hex()))
	// Canonical events of (fork, cp], fetched in log_range chunks.
	var fresh []*liqstreamv1.LiquidationEvent
	var letters []deadLetter
	var cpHash string
	for lo := fork + 1; lo <= cp; {
		c := &chunk{lo: lo, hi: min(lo+in.r.logRange-1, cp)}
		in.fetch(ctx, st, c)
		if c.err != nil {
			return fmt.Errorf("re-reading blocks [%d, %d] after a reorg: %w", c.lo, c.hi, c.err)
		}
		fresh = append(fresh, c.events...)
		letters = append(letters, c.letters...)
		cpHash = strings.ToLower(c.hiHash.Hex())
		lo = c.hi + 1
	}
	old := map[string]*liqstreamv1.LiquidationEvent{}
	for n, evs := range in.recent.events {
		if n > fork {
			for _, ev := range evs {
				old[ev.EventId] = ev
			}
		}
	}
	freshIDs := map[string]bool{}
	var out []*liqstreamv1.LiquidationEvent
	retracted := 0
	for _, ev := range fresh {
		freshIDs[ev.EventId] = true
		if prev, ok := old[ev.EventId]; ok && sameContent(prev, ev) {
			ev.Revision = prev.Revision // unchanged: nothing to publish
			continue
		}
		if ra, ok := in.recent.revs[ev.EventId]; ok {
			ev.Revision = ra.rev + 1
		}
		out = append(out, ev)
	}
	for id, ev := range old {
		if freshIDs[id] {
			continue
		}
		r := proto.Clone(ev).(*liqstreamv1.LiquidationEvent)
		r.Revision, r.Status = in.recent.revs[id].rev+1, liqstreamv1.Status_STATUS_RETRACTED
		out = append(out, r)
		retracted++
	}
	slices.SortFunc(out, func(a, b *liqstreamv1.LiquidationEvent) int { return strings.Compare(a.EventId, b.EventId) })
	ck := publish.Checkpoint{Block: cp, Hash: cpHash}
	if err := st.pub.Transact(ctx, ck, func(tctx context.Context) error {
		for _, ev := range out {
			if err := st.pub.Publish(tctx, ev); err != nil {
				return err
			}
		}
		for _, d := range letters {
			in.produceDeadLetter(tctx, st.pub, d)
		}
		return nil
	}); err != nil {
		return err
	}
	for _, d := range letters {
		in.logDeadLetter(ctx, d)
	}
	in.retractions.Add(ctx, int64(retracted), attrs)
	in.recent.dropAbove(fork)
	for _, ev := range out {
		in.recent.revs[ev.EventId] = revAt{ev.Revision, ev.BlockNumber}
	}
	in.recent.add(ck, fresh)
	in.cpHash = cpHash
	in.log.Warn("reorg repaired", "fork", fork, "checkpoint", cp, "orphaned_events", retracted,
		"republished", len(out)-retracted, "canonical_events", len(fresh))
	return nil
}
