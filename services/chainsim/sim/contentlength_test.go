package sim_test

import (
	"io"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/liqstream/liqstream/services/chainsim/sim"
)

// TestAnswersCarryContentLength: clients can read an answer into one buffer
// of the right size, as they can with real nodes.
func TestAnswersCarryContentLength(t *testing.T) {
	s := newSim(t, sim.Config{Seed: 3, Scale: 0.05, Chains: []uint64{137}})
	for _, body := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"}`,
		`[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},{"jsonrpc":"2.0","id":2,"method":"eth_getBlockByNumber","params":["0x1",false]}]`,
	} {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest("POST", "/polygon", strings.NewReader(body)))
		got, _ := io.ReadAll(rec.Body)
		if cl := rec.Header().Get("Content-Length"); cl != strconv.Itoa(len(got)) {
			t.Fatalf("Content-Length %q for a %d-byte answer to %s", cl, len(got), body)
		}
	}
}
