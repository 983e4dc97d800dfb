package host

import (
	"slices"
	"sync"
)

// latencyStats keeps the most recent handoff latencies for health output.
type latencyStats struct {
	mu   sync.Mutex
	ring [512]int64
	n    int
}

func (l *latencyStats) add(ns int64) {
	if ns < 0 {
		return
	}
	l.mu.Lock()
	l.ring[l.n%len(l.ring)] = ns
	l.n++
	l.mu.Unlock()
}

func (l *latencyStats) quantiles() (p50, p99 int64, n int) {
	l.mu.Lock()
	n = min(l.n, len(l.ring))
	v := slices.Clone(l.ring[:n])
	l.mu.Unlock()
	if n == 0 {
		return 0, 0, 0
	}
	slices.Sort(v)
	return v[n/2], v[min(n-1, n*99/100)], n
}
