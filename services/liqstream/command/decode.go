package command

import (
	"context"
	"fmt"
	"os"

	"github.com/liqstream/liqstream/services/lib/chains"
	"github.com/liqstream/liqstream/services/liqstream/decodecli"
)

// Decode reads eth_getLogs log objects on stdin (a JSON array or one object
// per line) and prints one decoded event per line in the contract's JSON
// form. Exit codes: 0 every log decoded, 1 at least one log could not be
// decoded (one line each on stderr) or the input could not be read, 2 usage.
func Decode(ctx context.Context, env Env, args []string) int {
	fs := flags(env, "decode")
	chain := fs.String("chain", "", "chain of the logs, slug or id (required), e.g. ethereum or 1")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: liqstream decode --chain SLUG|ID < logs.json\n\n"+
			"Reads eth_getLogs log objects (a JSON array or one per line) and prints one\n"+
			"event per line as contract JSON (no prices or symbols: offline). Exit 1 when\n"+
			"any log fails to decode; each failure is one line on stderr.\n\nflags:")
		fs.PrintDefaults()
	}
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if *chain == "" {
		fmt.Fprintln(env.Stderr, "liqstream decode: --chain is required (slug or chain id, e.g. ethereum or 1)")
		return 2
	}
	ch, err := chains.Default().Lookup(*chain)
	if err != nil {
		fmt.Fprintf(env.Stderr, "liqstream decode: --chain: %v\n", err)
		return 2
	}
	in := env.Stdin
	if in == nil {
		in = os.Stdin
	}
	st, err := decodecli.Run(ctx, ch, in, env.Stdout, env.Stderr)
	if err != nil {
		fmt.Fprintf(env.Stderr, "liqstream decode: %v\n", err)
		return 1
	}
	if st.Failed > 0 {
		fmt.Fprintf(env.Stderr, "liqstream decode: %d of %d logs could not be decoded\n", st.Failed, st.Failed+st.Decoded)
		return 1
	}
	return 0
}
