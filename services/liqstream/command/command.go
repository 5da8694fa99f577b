package command

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/liqstream/liqstream/services/lib/cliargs"
)

// Env is what a subcommand runs with: its streams and the process
// environment, so tests run commands in-process.
type Env struct {
	Stdout, Stderr io.Writer
	// Stdin feeds commands that read input (decode); nil means os.Stdin.
	Stdin   io.Reader
	Getenv  func(string) string
	Version string
}

// Command is one subcommand.
type Command struct {
	Name    string
	Summary string
	Run     func(ctx context.Context, env Env, args []string) int
}

// Commands lists every subcommand, in the order `liqstream help` shows them.
func Commands() []Command {
	return []Command{
		{"config", "check the shared config file: liqstream config check [--file liqstream.yaml]", Config},
		{"decode", "decode eth_getLogs log objects from stdin into contract JSON lines (offline)", Decode},
		{"demo", "run the whole pipeline over simulated Jan–Feb 2026 and compare with ground truth", Demo},
		{"migrate", "apply the ClickHouse schema migrations (idempotent)", Migrate},
		{"report", "print the liquidation report of a window (per chain, bad debt, waves, assets, liquidators)", Report},
		{"tail", "print events from the liquidations topic as JSON lines", Tail},
		{"verify", "re-count a block range's liquidations over RPC and diff them against ClickHouse", Verify},
		{"version", "print the version", func(_ context.Context, env Env, _ []string) int {
			fmt.Fprintln(env.Stdout, "liqstream", env.Version)
			return 0
		}},
	}
}

// Main dispatches args (without the program name) to a subcommand.
func Main(ctx context.Context, env Env, args []string) int {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	cmds := Commands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(env.Stdout, cmds)
		return 0
	}
	for _, c := range cmds {
		if c.Name == args[0] {
			return c.Run(ctx, env, args[1:])
		}
	}
	fmt.Fprintf(env.Stderr, "liqstream: unknown command %q\n", args[0])
	usage(env.Stderr, cmds)
	return 2
}

func usage(w io.Writer, cmds []Command) {
	fmt.Fprintln(w, "usage: liqstream <command> [flags]\n\ncommands:")
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-10s %s\n", c.Name, c.Summary)
	}
	fmt.Fprintln(w, "\n`liqstream <command> -h` lists a command's flags.")
}

// flags returns a FlagSet that reports errors on env.Stderr instead of
// exiting the process.
func flags(env Env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet("liqstream "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	return fs
}

// parse parses args and maps a usage error to exit code 2 (0 for -h).
func parse(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0, false
		}
		return 2, false
	}
	if err := cliargs.None(fs); err != nil {
		fmt.Fprintln(fs.Output(), err)
		return 2, false
	}
	return 0, true
}

func logger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// envOr returns the environment variable name, or def when it is empty.
func envOr(env Env, name, def string) string {
	if v := env.Getenv(name); v != "" {
		return v
	}
	return def
}
