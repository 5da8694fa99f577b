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
	"google.golang.org/protobuf/reflect/protoreflect"

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
// each liquidation and deficit record, and the latest revision of every
// event id (retracted ones included), for the last blocks below the
// checkpoint.
type recent struct {
	hashes   map[uint64]string
	events   map[uint64][]*liqstreamv1.LiquidationEvent
	deficits map[uint64][]*liqstreamv1.DeficitEvent
	revs     map[string]revAt
}

type revAt struct {
	rev   uint64
	block uint64
}

func newRecent() *recent {
	return &recent{hashes: map[uint64]string{}, events: map[uint64][]*liqstreamv1.LiquidationEvent{},
		deficits: map[uint64][]*liqstreamv1.DeficitEvent{}, revs: map[string]revAt{}}
}

// add records a committed group: its events, deficits and checkpoint.
func (r *recent) add(cp publish.Checkpoint, evs []*liqstreamv1.LiquidationEvent, defs []*liqstreamv1.DeficitEvent) {
	r.hashes[cp.Block] = cp.Hash
	for _, ev := range evs {
		r.hashes[ev.BlockNumber] = strings.ToLower(ev.BlockHash)
		r.events[ev.BlockNumber] = append(r.events[ev.BlockNumber], ev)
		r.revs[ev.EventId] = revAt{ev.Revision, ev.BlockNumber}
	}
	for _, d := range defs {
		r.hashes[d.BlockNumber] = strings.ToLower(d.BlockHash)
		r.deficits[d.BlockNumber] = append(r.deficits[d.BlockNumber], d)
		r.revs[d.EventId] = revAt{d.Revision, d.BlockNumber}
	}
}

// nextRevision gives every record whose event id was published before (a
// reorg moved its transaction above the checkpoint) the next revision.
func nextRevision[T revisioned](r *recent, recs []T) {
	for _, rec := range recs {
		if ra, ok := r.revs[rec.GetEventId()]; ok {
			setRevision(rec, ra.rev+1)
		}
	}
}

// prune forgets blocks below low, except the highest remembered block
// below it and everything above that one: this anchor keeps one block the
// walk-back to a fork can find at or below the horizon, with every event
// published above it, however far apart the blocks with events and group
// ends fall. Without it a reorg only just deeper than the confirmations
// could find no remembered block below the fork and be reported too deep.
func (r *recent) prune(low uint64) {
	anchor, found := uint64(0), false
	for n := range r.hashes {
		if n < low && (!found || n > anchor) {
			anchor, found = n, true
		}
	}
	if found {
		low = anchor
	}
	for n := range r.hashes {
		if n < low {
			delete(r.hashes, n)
			delete(r.events, n)
			delete(r.deficits, n)
		}
	}
	for id, ra := range r.revs {
		if ra.block < low {
			delete(r.revs, id)
		}
	}
}

// dropAbove forgets the blocks above fork (they were orphaned).
func (r *recent) dropAbove(fork uint64) {
	for n := range r.hashes {
		if n > fork {
			delete(r.hashes, n)
			delete(r.events, n)
			delete(r.deficits, n)
		}
	}
}

// above returns the recorded versions of the blocks above fork, by event id.
func above[T revisioned](byBlock map[uint64][]T, fork uint64) map[string]T {
	out := map[string]T{}
	for n, recs := range byBlock {
		if n > fork {
			for _, rec := range recs {
				out[rec.GetEventId()] = rec
			}
		}
	}
	return out
}

// revisioned is what both record types of the topic share: an event id, a
// block, and revision and status fields (set through protoreflect).
type revisioned interface {
	proto.Message
	GetEventId() string
	GetBlockNumber() uint64
	GetRevision() uint64
}

// Field names common to LiquidationEvent and DeficitEvent.
const (
	fieldRevision   = "revision"
	fieldStatus     = "status"
	fieldObservedAt = "observed_at"
)

func setRevision(m proto.Message, rev uint64) {
	r := m.ProtoReflect()
	r.Set(r.Descriptor().Fields().ByName(fieldRevision), protoreflect.ValueOfUint64(rev))
}

// retraction is a copy of m at revision rev with status RETRACTED.
func retraction[T revisioned](m T, rev uint64) T {
	c := proto.Clone(m).(T)
	r := c.ProtoReflect()
	setRevision(c, rev)
	r.Set(r.Descriptor().Fields().ByName(fieldStatus), protoreflect.ValueOfEnum(protoreflect.EnumNumber(liqstreamv1.Status_STATUS_RETRACTED)))
	return c
}

// sameContent compares two versions of a record, ignoring observation time,
// revision and status.
func sameContent(a, b proto.Message) bool {
	x, y := proto.Clone(a), proto.Clone(b)
	for _, m := range []protoreflect.Message{x.ProtoReflect(), y.ProtoReflect()} {
		for _, name := range []protoreflect.Name{fieldRevision, fieldStatus, fieldObservedAt} {
			m.Clear(m.Descriptor().Fields().ByName(name))
		}
	}
	return proto.Equal(x, y)
}

// repair compares the canonical records of the reorged blocks (fresh) with
// what was published for them (old, by event id). It returns what to
// publish: a new revision of every record that is new or changed (unchanged
// ones keep their revision and are not republished) and a retraction of
// every orphaned one, sorted by event id, and how many were retracted.
func repair[T revisioned](r *recent, old map[string]T, fresh []T) (out []T, retracted int) {
	freshIDs := map[string]bool{}
	for _, rec := range fresh {
		id := rec.GetEventId()
		freshIDs[id] = true
		if prev, ok := old[id]; ok && sameContent(prev, rec) {
			setRevision(rec, prev.GetRevision()) // unchanged: nothing to publish
			continue
		}
		if ra, ok := r.revs[id]; ok {
			setRevision(rec, ra.rev+1)
		}
		out = append(out, rec)
	}
	for id, rec := range old {
		if !freshIDs[id] {
			out = append(out, retraction(rec, r.revs[id].rev+1))
			retracted++
		}
	}
	slices.SortFunc(out, func(a, b T) int { return strings.Compare(a.GetEventId(), b.GetEventId()) })
	return out, retracted
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
	// Prices and reserves are cached by block number: re-read the reorged
	// blocks' state from the canonical chain.
	for _, p := range st.pricers {
		p.Forget(fork + 1)
	}
	// Canonical records of (fork, cp], fetched in log_range chunks.
	var fresh []*liqstreamv1.LiquidationEvent
	var freshDefs []*liqstreamv1.DeficitEvent
	var letters []deadLetter
	var cpHash string
	for lo := fork + 1; lo <= cp; {
		c := &chunk{lo: lo, hi: min(lo+in.r.logRange-1, cp)}
		in.fetch(ctx, st, c)
		if c.err != nil {
			return fmt.Errorf("re-reading blocks [%d, %d] after a reorg: %w", c.lo, c.hi, c.err)
		}
		fresh = append(fresh, c.events...)
		freshDefs = append(freshDefs, c.deficits...)
		letters = append(letters, c.letters...)
		cpHash = strings.ToLower(c.hiHash.Hex())
		lo = c.hi + 1
	}
	out, retracted := repair(in.recent, above(in.recent.events, fork), fresh)
	outDefs, retractedDefs := repair(in.recent, above(in.recent.deficits, fork), freshDefs)
	ck := publish.Checkpoint{Block: cp, Hash: cpHash}
	if err := st.pub.Transact(ctx, ck, func(tctx context.Context) error {
		for _, ev := range out {
			if err := st.pub.Publish(tctx, ev); err != nil {
				return err
			}
		}
		for _, d := range outDefs {
			if err := st.pub.PublishDeficit(tctx, d); err != nil {
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
	in.retractions.Add(ctx, int64(retracted+retractedDefs), attrs)
	in.recent.dropAbove(fork)
	for _, ev := range out {
		in.recent.revs[ev.EventId] = revAt{ev.Revision, ev.BlockNumber}
	}
	for _, d := range outDefs {
		in.recent.revs[d.EventId] = revAt{d.Revision, d.BlockNumber}
	}
	in.recent.add(ck, fresh, freshDefs)
	in.cpHash = cpHash
	in.log.Warn("reorg repaired", "fork", fork, "checkpoint", cp, "orphaned_events", retracted,
		"republished", len(out)-retracted, "canonical_events", len(fresh),
		"orphaned_deficits", retractedDefs, "republished_deficits", len(outDefs)-retractedDefs, "canonical_deficits", len(freshDefs))
	return nil
}
