package killtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/chainsim/faults"
	"github.com/liqstream/liqstream/services/chainsim/sim"
	"github.com/liqstream/liqstream/services/ingest/publish"
	"github.com/liqstream/liqstream/services/lib/kafkaconn"
	"github.com/liqstream/liqstream/services/lib/testsupport"
)

// EnvKills sets the number of SIGKILLs (default 20).
const EnvKills = "LIQSTREAM_INGEST_KILLS"

const (
	chainID = 137
	slug    = "polygon"
	// rpcLatency slows every RPC request so that a backfill spans many
	// transactions and several seconds.
	rpcLatency = 2 * time.Millisecond
)

func kills(t *testing.T) int {
	t.Helper()
	v := os.Getenv(EnvKills)
	if v == "" {
		return 20
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 2 {
		t.Fatalf("%s=%q: want an integer >= 2", EnvKills, v)
	}
	return n
}

// buildIngest compiles cmd/ingest into a temporary directory.
func buildIngest(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ingest")
	cmd := exec.Command("go", "build", "-o", bin, "../cmd/ingest")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building cmd/ingest: %v\n%s", err, out)
	}
	return bin
}

// proc is one incarnation of the ingest process.
type proc struct {
	cmd     *exec.Cmd
	started chan struct{} // closed at "ingest starting"
	exited  chan struct{}
	mu      sync.Mutex
	lines   []string
	resume  int64 // checkpoint it resumed from; -1: none
}

var resumeRE = regexp.MustCompile(`msg="resuming from checkpoint".* checkpoint=(\d+)`)

func start(t *testing.T, bin, config string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, "--config", config), started: make(chan struct{}), exited: make(chan struct{}), resume: -1}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.exited)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.lines = append(p.lines, line)
			if m := resumeRE.FindStringSubmatch(line); m != nil {
				p.resume, _ = strconv.ParseInt(m[1], 10, 64)
			}
			p.mu.Unlock()
			if strings.Contains(line, `msg="ingest starting"`) {
				once.Do(func() { close(p.started) })
			}
		}
		_ = p.cmd.Wait()
	}()
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); <-p.exited })
	return p
}

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

func (p *proc) resumedFrom() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.resume
}

// kill SIGKILLs the process and fails the test if it had already exited
// (a crash the test did not cause).
func (p *proc) kill(t *testing.T) {
	t.Helper()
	select {
	case <-p.exited:
		t.Fatalf("ingest exited before the kill (%v):\n%s", p.cmd.ProcessState, p.log())
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.exited
}

// stop sends SIGTERM and requires a clean exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		t.Fatalf("ingest did not stop within 20s of SIGTERM:\n%s", p.log())
	}
	if !p.cmd.ProcessState.Success() {
		t.Fatalf("ingest exited with %v after SIGTERM:\n%s", p.cmd.ProcessState, p.log())
	}
}

// checkpoint reads the committed checkpoint without fencing the process.
func checkpoint(t *testing.T, kcfg publish.Config) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cp, ok, err := publish.ReadCheckpoint(ctx, kcfg, chainID, nil)
	if err != nil {
		t.Fatalf("reading the checkpoint: %v", err)
	}
	if !ok {
		return 0
	}
	return cp.Block
}

// TestSIGKILLExactlyOnce kills ingest at seeded-random moments during
// backfill and follow, and checks that a read_committed consumer sees every
// truth event exactly once.
func TestSIGKILLExactlyOnce(t *testing.T) {
	brokers := testsupport.KafkaBrokers(t)
	seed := testsupport.Seed(t)
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6b696c6c))
	nKills := kills(t)
	began := time.Now()
	bin := buildIngest(t)
	buildTime := time.Since(began)

	// Each backfill incarnation ingests about half a day of Polygon blocks
	// before its kill, so the window grows with the kills: the backfill
	// must outlast them. The last 3 days are left for follow.
	backfillKills, followKills := nKills/2, nKills-nKills/2
	days := max(14, backfillKills+4)
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s, err := sim.New(sim.Config{Seed: seed, Scale: 0.5, From: from, To: from.AddDate(0, 0, days), Chains: []uint64{chainID}})
	if err != nil {
		t.Fatal(err)
	}
	finalHead := s.Head(chainID)
	inj, err := faults.New(faults.Config{Seed: seed, Latency: rpcLatency}, s.Handler())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(inj)
	t.Cleanup(srv.Close)

	kcfg := publish.Config{Conn: kafkaconn.Conn{Brokers: brokers}, TopicPrefix: testsupport.UniqueName("killtest") + ".", Replication: 1,
		TransactionTimeout: 10 * time.Second}
	config := filepath.Join(t.TempDir(), "ingest.yaml")
	// The shared liqstream.yaml format (deploy/config/README.md); the one
	// chain it configures is the one ingest runs.
	yaml := fmt.Sprintf(`kafka:
  brokers: [%s]
ingest:
  kafka:
    topic_prefix: %q
    replication: 1
    transaction_timeout: %s
chains:
  %s:
    rpc_url: %s/%s
    from: "2026-01-01"
    follow: true
    poll_interval: 100ms
    log_range: 500
    concurrency: 2
    progress_interval: 1s
`, strings.Join(brokers, ", "), kcfg.TopicPrefix, kcfg.TransactionTimeout, slug, srv.URL, slug)
	if err := os.WriteFile(config, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}

	// Phase 1, backfill: the head is held 3 days before the end of the
	// window (day 11 with 20 kills: ~475k blocks, 500 per eth_getLogs,
	// 1,000 per transaction); each incarnation is killed a random time after
	// it starts (some during startup, most mid-backfill).
	midHead := s.BlockAt(chainID, from.AddDate(0, 0, days-3))
	s.SetHead(chainID, midHead)
	midSafe := s.Finalized(chainID)
	var procs []*proc
	var killedAt []string // phase and delay of each kill, for the report
	// midBackfill counts the kills that found the committed checkpoint
	// still below the held head's safe block: the backfill was not done.
	midBackfill := 0
	for range backfillKills {
		p := start(t, bin, config)
		procs = append(procs, p)
		d := time.Duration(rng.Int64N(int64(900 * time.Millisecond)))
		time.Sleep(d)
		p.kill(t)
		killedAt = append(killedAt, fmt.Sprintf("backfill+%s", d.Round(time.Millisecond)))
		if checkpoint(t, kcfg) < midSafe {
			midBackfill++
		}
	}

	// Let one incarnation catch up to the held head: it is now following.
	p := start(t, bin, config)
	procs = append(procs, p)
	testsupport.Eventually(t, 60*time.Second, 50*time.Millisecond, func() bool { return checkpoint(t, kcfg) >= midSafe },
		"ingest did not catch up to block %d", midSafe)

	// Phase 2, follow: the head moves forward in steps while the process
	// follows it, and is killed at random moments.
	moved := make(chan struct{})
	stopMoving := make(chan struct{})
	go func() {
		defer close(moved)
		step := (finalHead - midHead) / uint64(followKills*12)
		for h := midHead; h < finalHead; {
			select {
			case <-stopMoving:
				return
			case <-time.After(50 * time.Millisecond):
			}
			h = min(h+step, finalHead)
			s.SetHead(chainID, h)
		}
	}()
	t.Cleanup(func() {
		select {
		case <-moved:
		default:
			close(stopMoving)
			<-moved
		}
	})
	for i := range followKills {
		if i > 0 {
			p = start(t, bin, config)
			procs = append(procs, p)
		}
		d := 200*time.Millisecond + time.Duration(rng.Int64N(int64(700*time.Millisecond)))
		time.Sleep(d)
		p.kill(t)
		killedAt = append(killedAt, fmt.Sprintf("follow+%s", d.Round(time.Millisecond)))
	}
	<-moved

	// The last incarnation catches up with the final head and stops on
	// SIGTERM, committing what it has fetched.
	p = start(t, bin, config)
	procs = append(procs, p)
	select {
	case <-p.started:
	case <-p.exited:
		t.Fatalf("last incarnation exited at startup:\n%s", p.log())
	case <-time.After(30 * time.Second):
		t.Fatalf("last incarnation did not start within 30s:\n%s", p.log())
	}
	lastSafe := s.Finalized(chainID)
	testsupport.Eventually(t, 60*time.Second, 50*time.Millisecond, func() bool { return checkpoint(t, kcfg) >= lastSafe },
		"ingest did not reach block %d", lastSafe)
	p.stop(t)

	// Where each kill landed: the next incarnation logs the checkpoint it
	// resumed from, which is the committed state at the kill.
	if os.Getenv("LIQSTREAM_TEST_VERBOSE") != "" {
		for i, p := range procs {
			t.Logf("incarnation %d:\n%s", i+1, p.log())
		}
	}
	// A kill before an incarnation logged its resume point leaves -1;
	// committed checkpoints never go back.
	last := int64(-1)
	for i, what := range killedAt {
		r := procs[i+1].resumedFrom()
		t.Logf("kill %2d %-16s next incarnation resumed from %d", i+1, what, r)
		if r >= 0 && r < last {
			t.Errorf("incarnation %d resumed from %d, below the %d an earlier one resumed from", i+2, r, last)
		}
		last = max(last, r)
	}
	if midBackfill < backfillKills/2 {
		t.Errorf("only %d of %d backfill kills landed before the backfill ended; the test no longer exercises backfill", midBackfill, backfillKills)
	}

	// Verify: read_committed, each truth event exactly once, nothing else;
	// the checkpoint is the last safe block.
	topic := kcfg.TopicPrefix + "liqstream.liquidations.v1"
	committed := readEventIDs(t, brokers, topic, true)
	truth := s.Truth().Events(chainID)
	if len(truth) == 0 {
		t.Fatal("chainsim truth has no events")
	}
	want := map[string]bool{}
	for _, ev := range truth {
		want[fmt.Sprintf("%d:%s:%d", chainID, strings.ToLower(ev.TxHash.Hex()), ev.LogIndex)] = true
	}
	seen := map[string]int{}
	for _, id := range committed {
		seen[id]++
	}
	var dups, extra, missing []string
	for id, n := range seen {
		if n > 1 {
			dups = append(dups, fmt.Sprintf("%s×%d", id, n))
		}
		if !want[id] {
			extra = append(extra, id)
		}
	}
	for id := range want {
		if seen[id] == 0 {
			missing = append(missing, id)
		}
	}
	if len(dups)+len(extra)+len(missing) > 0 {
		t.Fatalf("read_committed: %d records, %d truth events; %d duplicated %v, %d not in truth %v, %d missing %v",
			len(committed), len(want), len(dups), head(dups), len(extra), head(extra), len(missing), head(missing))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cp, ok, err := publish.ReadCheckpoint(ctx, kcfg, chainID, nil)
	if err != nil || !ok || cp.Block != lastSafe || cp.Hash != strings.ToLower(s.BlockHash(chainID, lastSafe).Hex()) {
		t.Fatalf("checkpoint = %+v, %v, %v; want block %d hash %s", cp, ok, err, lastSafe, strings.ToLower(s.BlockHash(chainID, lastSafe).Hex()))
	}
	all := readEventIDs(t, brokers, topic, false)
	inTxn := abortedEpochs(t, brokers, topic, kcfg.TopicPrefix+"liqstream.ingest-checkpoints.v1")
	t.Logf("KILLTEST seed=%d kills=%d (backfill %d, of which %d before the backfill ended; follow %d) incarnations=%d "+
		"kills_inside_open_transaction=%d truth=%d read_committed=%d (exactly once) read_uncommitted=%d (%d records of aborted transactions) "+
		"checkpoint=%d build=%s total=%s",
		seed, len(killedAt), backfillKills, midBackfill, followKills, len(procs), len(inTxn), len(want), len(committed), len(all),
		len(all)-len(committed), cp.Block, buildTime.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
}

func head(ids []string) []string { return ids[:min(len(ids), 5)] }

// readEventIDs reads topic from the start to its high watermark and returns
// the event ids of its data records, read_committed or read_uncommitted.
func readEventIDs(t *testing.T, brokers []string, topic string, committed bool) []string {
	t.Helper()
	ids, _ := readTopic(t, brokers, topic, committed, true)
	return ids
}

// abortedEpochs returns the producer epochs that wrote an abort marker to
// any of the topics. Every incarnation has its own epoch and commits all
// but possibly its last transaction, so each epoch is one kill that landed
// inside an open transaction.
func abortedEpochs(t *testing.T, brokers []string, topics ...string) map[int16]bool {
	t.Helper()
	all := map[int16]bool{}
	for _, topic := range topics {
		_, epochs := readTopic(t, brokers, topic, false, false)
		for e := range epochs {
			all[e] = true
		}
	}
	return all
}

// readTopic reads topic from the start to its high watermark; it returns the
// event ids of the data records (when events is set) and the producer
// epochs of the abort markers.
func readTopic(t *testing.T, brokers []string, topic string, committed, events bool) ([]string, map[int16]bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts := []kgo.Opt{kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.KeepControlRecords()} // the last offset of a partition is a commit or abort marker
	if committed {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	var ids []string
	aborts := map[int16]bool{}
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("reading %s (committed=%v): %v; partitions not read to the end: %v", topic, committed, err, want)
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = errors.Join(ferr, err) })
		if ferr != nil {
			t.Fatalf("reading %s: %v", topic, ferr)
		}
		fs.EachRecord(func(r *kgo.Record) {
			switch {
			case r.Attrs.IsControl():
				// Control record key: version int16, type int16 (0 abort, 1 commit).
				if len(r.Key) >= 4 && r.Key[2] == 0 && r.Key[3] == 0 {
					aborts[r.ProducerEpoch] = true
				}
			case events:
				var ev liqstreamv1.LiquidationEvent
				if err := proto.Unmarshal(r.Value, &ev); err != nil {
					t.Fatalf("%s/%d offset %d: %v", topic, r.Partition, r.Offset, err)
				}
				ids = append(ids, ev.EventId)
			}
			if r.Offset+1 >= want[r.Partition] {
				delete(want, r.Partition)
			}
		})
	}
	return ids, aborts
}
