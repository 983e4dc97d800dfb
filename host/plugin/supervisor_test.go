package plugin

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/internal/testenv"
)

// A restarted plugin leaves nothing of its dead predecessor behind in the
// host: no goroutine (go-plugin's gRPC connection redialling a dead
// socket) and no fd (its data-plane socket).
func TestRestartsLeaveNothingBehind(t *testing.T) {
	b, err := Load(visualBin)
	if err != nil {
		t.Fatal(err)
	}
	policy := RestartPolicy{Initial: 10 * time.Millisecond, Max: 10 * time.Millisecond, MaxCrashes: 100, Window: time.Minute,
		HealthInterval: time.Minute, HealthTimeout: time.Second}
	restarted := make(chan *Process, 16)
	sup := NewSupervisor(b, Options{StartTimeout: 10 * time.Second}, policy, Hooks{Started: func(p *Process, restart bool) {
		if restart {
			restarted <- p
		}
	}})
	if _, err := sup.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer sup.Close()
	defer cancel()
	go sup.Run(ctx)
	kill := func() {
		sup.Current().Kill()
		select {
		case <-restarted:
		case <-time.After(30 * time.Second):
			t.Fatal("no restart")
		}
	}
	kill() // the first restart's goroutines (timers, pools) are the baseline
	var g0, f0 int
	testenv.Eventually(t, 10*time.Second, "goroutines to settle", func() bool {
		g := runtime.NumGoroutine()
		settled := g == g0
		g0, f0 = g, openFDs()
		return settled
	})
	for range 8 {
		kill()
	}
	var g1, f1 int
	testenv.Eventually(t, 10*time.Second, "goroutines back to where they were", func() bool {
		g1, f1 = runtime.NumGoroutine(), openFDs()
		return g1 <= g0+2 && f1 <= f0+2
	})
	t.Logf("after 8 restarts: goroutines %d → %d, fds %d → %d", g0, g1, f0, f1)
}

func openFDs() int {
	ents, _ := os.ReadDir("/proc/self/fd")
	n := 0
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err == nil && !strings.HasPrefix(e.Name(), ".") {
			n++
		}
	}
	return n
}
