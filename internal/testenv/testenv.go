// Package testenv holds what tests that drive real tools share: the rule
// for a missing tool, a buffer several goroutines write, and helper
// processes whose output is kept for a failing test.
package testenv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// Missing skips tb on a developer's machine where a tool is absent, naming
// it; in CI (CI set), where scripts/setup.sh installs everything, it fails
// instead: a skipped test there would count as passing without running.
func Missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		tb.Fatalf("%s — CI must run this test; scripts/setup.sh installs what it needs", msg)
	}
	tb.Skip(msg)
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers and readers.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Procs starts helper processes for one test and, if the test fails, logs
// the output of every one at cleanup: a server's first run, stopped
// mid-test, may hold the explanation.
type Procs struct {
	mu   sync.Mutex
	runs []*Proc
}

// NewProcs returns a Procs that reports to tb and stops its processes at
// tb's cleanup.
func NewProcs(tb testing.TB) *Procs {
	ps := &Procs{}
	tb.Cleanup(func() {
		ps.mu.Lock()
		defer ps.mu.Unlock()
		for i, p := range ps.runs {
			p.Stop()
			if tb.Failed() {
				tb.Logf("%s (run %d) output:\n%s", p.name, i+1, p.Output())
			}
		}
	})
	return ps
}

// Proc is one helper process.
type Proc struct {
	name string
	cmd  *exec.Cmd
	out  SyncBuffer
	done chan struct{}
	once sync.Once
}

// Start runs name with args, its stdout and stderr kept.
func (ps *Procs) Start(name string, args ...string) (*Proc, error) {
	p := &Proc{name: name, cmd: exec.Command(name, args...), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	ps.mu.Lock()
	ps.runs = append(ps.runs, p)
	ps.mu.Unlock()
	return p, nil
}

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Done is closed when the process has ended.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Stop kills the process (by its own pid) and waits for it; idempotent.
func (p *Proc) Stop() {
	p.once.Do(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
}

// Output is what the process wrote so far.
func (p *Proc) Output() string { return p.out.String() }

// Eventually polls cond every 10 ms until it holds, and fails tb with what
// if it does not within timeout. Tests wait on conditions this way, never
// on a sleep: the timeout only bounds a broken run.
func Eventually(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	if cond() {
		return
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeout)
	for {
		select {
		case <-tick.C:
			if cond() {
				return
			}
		case <-deadline:
			tb.Fatalf("waiting for %s: not within %s", what, timeout)
		}
	}
}
