// Command liqstream is the user-facing tool: `liqstream demo`, `liqstream
// migrate`, and (as they land) decode, report, tail and verify.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/liqstream/liqstream/services/liqstream/command"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := command.Main(ctx, command.Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Version: version}, os.Args[1:])
	stop()
	os.Exit(code)
}
