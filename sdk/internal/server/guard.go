package server

import (
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
)

// A panic in a plugin's code costs the input it was working on (an item
// error plugin_panic), not the process: every other stream of the plugin
// goes on. A stream that panics maxPanics times within panicWindow is
// closed alone, and every later input of it is answered stream_failed,
// which the host reports as that plugin's error on that stream.
const (
	maxPanics   = 5
	panicWindow = time.Minute
	// panicStackLines is how much of the stack the log keeps.
	panicStackLines = 16
)

// Error codes of the guard (docs/DATAPLANE.md).
const (
	CodePanic        = "plugin_panic"
	CodeStreamFailed = "stream_failed"
)

// panics is one stream's panic record.
type panics struct {
	mu     sync.Mutex
	times  []time.Time
	failed string // why the stream was closed; "" while it works
}

func (p *panics) failure() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.failed
}

// guard runs fn, one call into the plugin's code for stream st, and turns
// a panic into an error (logged with the first lines of its stack).
func (s *service) guard(st *stream, what string, fn func()) (perr *pluginv1.Error) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		msg := fmt.Sprintf("panic in %s: %v", what, r)
		s.log.Error("plugin code panicked; the input is answered "+CodePanic+" and the stream goes on",
			"stream", st.id, "call", what, "panic", fmt.Sprint(r), "stack", stackHead(debug.Stack()))
		perr = &pluginv1.Error{Code: CodePanic, Message: msg}
		if st.notePanic(msg) {
			s.log.Error("stream closed after repeated panics; its later inputs are answered "+CodeStreamFailed,
				"stream", st.id, "panics", maxPanics, "window", panicWindow)
			s.closeProcessor(st)
		}
	}()
	fn()
	return nil
}

// notePanic records a panic and reports whether the stream fails now.
func (st *stream) notePanic(msg string) bool {
	p := &st.panics
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failed != "" {
		return false
	}
	now := time.Now()
	keep := p.times[:0]
	for _, t := range p.times {
		if now.Sub(t) < panicWindow {
			keep = append(keep, t)
		}
	}
	p.times = append(keep, now)
	if len(p.times) < maxPanics {
		return false
	}
	p.failed = fmt.Sprintf("closed after %d panics within %s; the last: %s", len(p.times), panicWindow, msg)
	return true
}

// closeProcessor closes a failed stream's processor, which may panic too.
func (s *service) closeProcessor(st *stream) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("closing a failed stream panicked as well", "stream", st.id, "panic", fmt.Sprint(r))
		}
	}()
	if err := st.proc.Close(); err != nil {
		s.log.Warn("closing failed stream", "stream", st.id, "error", err)
	}
}

// stackHead keeps the panic's own frames: the lines after the runtime's
// panic machinery, up to panicStackLines.
func stackHead(stack []byte) string {
	lines := strings.Split(strings.TrimSpace(string(stack)), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "panic(") && i+2 < len(lines) {
			lines = lines[i+2:]
			break
		}
	}
	if len(lines) > panicStackLines {
		lines = lines[:panicStackLines]
	}
	return strings.Join(lines, "\n")
}
