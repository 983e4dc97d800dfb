package plugin

import (
	"bytes"
	"fmt"
	"sync"
	"time"
)

// tailWriter keeps the last lines a plugin wrote to stderr, for the hint an
// operator sees when the plugin fails.
type tailWriter struct {
	mu      sync.Mutex
	max     int
	lines   []string
	partial []byte
	// onLine, if set, sees each complete line (the host log); at most
	// lineBudget lines a second, the rest counted and reported.
	onLine     func(line string)
	windowAt   time.Time
	inWindow   int
	suppressed int
}

// lineBudget caps how many plugin output lines per second reach the host
// log, so a flooding plugin cannot drown the operator's log.
const lineBudget = 50

func newTailWriter(max int) *tailWriter { return &tailWriter{max: max} }

func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		line := string(bytes.TrimRight(w.partial[:i], "\r"))
		w.partial = w.partial[i+1:]
		if len(line) > 300 {
			line = line[:300] + "…"
		}
		w.lines = append(w.lines, line)
		if len(w.lines) > w.max {
			w.lines = w.lines[len(w.lines)-w.max:]
		}
		w.forward(line)
	}
	if len(w.partial) > 4096 { // a flood without newlines stays bounded
		w.partial = w.partial[len(w.partial)-4096:]
	}
	return len(p), nil
}

// Lines returns a copy of the kept lines, oldest first.
func (w *tailWriter) Lines() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.lines...)
}

func (w *tailWriter) forward(line string) {
	if w.onLine == nil {
		return
	}
	now := time.Now()
	if now.Sub(w.windowAt) >= time.Second {
		if w.suppressed > 0 {
			w.onLine(fmt.Sprintf("(%d more lines suppressed)", w.suppressed))
		}
		w.windowAt, w.inWindow, w.suppressed = now, 0, 0
	}
	if w.inWindow >= lineBudget {
		w.suppressed++
		return
	}
	w.inWindow++
	w.onLine(line)
}
