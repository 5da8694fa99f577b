package kfakeproc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Broker is a kfakebroker process started by Start.
type Broker struct {
	Addrs []string
	cmd   *exec.Cmd
	done  chan error
}

// Start runs the kfakebroker binary at bin (built from
// services/aggregator/bench/cmd/kfakebroker) and waits until it prints
// "listening host:port".
func Start(ctx context.Context, bin string) (*Broker, error) {
	cmd := exec.Command(bin)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s (build it with go build ./bench/cmd/kfakebroker in services/aggregator): %w", bin, err)
	}
	b := &Broker{cmd: cmd, done: make(chan error, 1)}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, out)
		b.done <- cmd.Wait()
	}()
	select {
	case l, ok := <-lines:
		addrs, found := strings.CutPrefix(l, "listening ")
		if !ok || !found {
			b.Close()
			return nil, fmt.Errorf("kfakebroker printed %q, want \"listening host:port\"", l)
		}
		b.Addrs = strings.Split(addrs, ",")
		return b, nil
	case <-ctx.Done():
		b.Close()
		return nil, ctx.Err()
	case <-time.After(30 * time.Second):
		b.Close()
		return nil, errors.New("kfakebroker did not print its address within 30s")
	}
}

// Close stops the broker process (SIGTERM, then SIGKILL after 10 s) and
// waits for it.
func (b *Broker) Close() {
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(10 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.done
	}
}

// CPU returns the CPU time (user + system) the broker process has used so
// far, read from /proc/<pid>/stat; 0 when it cannot be read.
func (b *Broker) CPU() time.Duration { return ProcessCPU(b.cmd.Process.Pid) }

// ProcessCPU returns the CPU time (user + system) process pid has used so
// far, read from /proc/<pid>/stat (Linux); 0 when it cannot be read.
func ProcessCPU(pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the parenthesised command name; utime and stime are
	// fields 14 and 15 of the whole line, in clock ticks (USER_HZ, 100).
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	var ut, st int64
	_, _ = fmt.Sscan(f[11], &ut)
	_, _ = fmt.Sscan(f[12], &st)
	return time.Duration(ut+st) * 10 * time.Millisecond
}
