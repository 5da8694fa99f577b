// Command kfakebroker runs franz-go's kfake Kafka cluster as a process of its
// own, so a benchmark measures the aggregator against a broker that does not
// share its Go runtime, heap or garbage collector.
//
//	kfakebroker [--brokers 1] [--port 0]
//
// It prints "listening host:port[,host:port...]" on stdout once the cluster
// accepts connections, and runs until SIGINT or SIGTERM.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "kfakebroker:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("kfakebroker", flag.ContinueOnError)
	brokers := fs.Int("brokers", 1, "number of brokers in the cluster")
	port := fs.Int("port", 0, "port of the first broker (0: any free port; more brokers take the next ones)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *brokers < 1 {
		return fmt.Errorf("--brokers %d: want at least 1", *brokers)
	}
	opts := []kfake.Opt{kfake.NumBrokers(*brokers)}
	if *port != 0 {
		ports := make([]int, *brokers)
		for i := range ports {
			ports[i] = *port + i
		}
		opts = append(opts, kfake.Ports(ports...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return fmt.Errorf("starting kfake cluster: %w", err)
	}
	defer c.Close()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	fmt.Printf("listening %s\n", strings.Join(c.ListenAddrs(), ","))
	<-sig
	return nil
}
