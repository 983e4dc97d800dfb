package host

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// StreamLoss is what one stream lost of the data the host accepted for it,
// over its runs in this host's life, and what arrived late
// (docs/DURABILITY.md, "Late results and loss at exit").
//
// Lost: frames dropped before any plugin saw them (the pool exhausted on a
// live stream, a frame store error), frames or audio chunks a plugin died
// holding (plugin_lost), frames produced while a plugin was down
// (plugin_down), topic events that never reached their consumer
// (text_dropped), audio that never reached a plugin (past its bound, or
// while it was down), and late results that could not be attached (they
// came after the run's end was recorded, or cannot be encoded).
//
// Not lost: late results attached to their closed segment (reported), and
// frames a live plugin skipped because a newer one replaced them while it
// was busy (latest-wins, the live sampling policy; counted per segment as
// frames_skipped).
type StreamLoss struct {
	Stream          string
	FramesDropped   int64
	PluginLost      int64
	FramesMissed    int64
	TextDropped     int64
	AudioDropped    time.Duration
	LateNotAttached int64
	// LateAttached counts late results handed to the store writer to be
	// attached to their closed segment (a record the store refuses counts
	// in LossReport.Rejected).
	LateAttached int64
}

// lost reports whether s lost anything.
func (s StreamLoss) lost() bool {
	return s.FramesDropped+s.PluginLost+s.FramesMissed+s.TextDropped+s.LateNotAttached > 0 || s.AudioDropped > 0
}

func (s StreamLoss) String() string {
	var parts []string
	add := func(n int64, what string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(s.FramesDropped, "frames dropped")
	add(s.PluginLost, "frames or chunks lost with their plugin (plugin_lost)")
	add(s.FramesMissed, "frames missed while a plugin was down (plugin_down)")
	add(s.TextDropped, "topic events dropped (text_dropped)")
	if s.AudioDropped > 0 {
		parts = append(parts, fmt.Sprintf("%s of audio dropped", s.AudioDropped.Round(time.Millisecond)))
	}
	add(s.LateNotAttached, "late results not attached")
	add(s.LateAttached, "late results (attached late)")
	return fmt.Sprintf("stream %q: %s", s.Stream, strings.Join(parts, ", "))
}

// LossReport is what the host lost during its life, by stream, and what
// its store writer could not store.
type LossReport struct {
	// Streams lists the streams with anything to report, by id.
	Streams []StreamLoss
	// Rejected counts records the store writer could never store (set
	// aside in the spool's rejected folder); HeldAtExit those neither
	// spooled nor stored when it stopped.
	Rejected, HeldAtExit int64
}

// Lost reports whether any accepted data was lost.
func (r LossReport) Lost() bool {
	if r.Rejected > 0 || r.HeldAtExit > 0 {
		return true
	}
	for _, s := range r.Streams {
		if s.lost() {
			return true
		}
	}
	return false
}

// Summary is one line saying what was lost ("data lost: stream "x": 2
// frames dropped, ...; store: 1 record rejected"), or, with nothing lost,
// what came late ("nothing lost: stream "x": 7 late results (attached
// late)"); "" when there is nothing to report.
func (r LossReport) Summary() string {
	var parts []string
	for _, s := range r.Streams {
		parts = append(parts, s.String())
	}
	var st []string
	if r.Rejected > 0 {
		st = append(st, fmt.Sprintf("%d records rejected", r.Rejected))
	}
	if r.HeldAtExit > 0 {
		st = append(st, fmt.Sprintf("%d records neither spooled nor stored at exit", r.HeldAtExit))
	}
	if len(st) > 0 {
		parts = append(parts, "store: "+strings.Join(st, ", "))
	}
	if len(parts) == 0 {
		return ""
	}
	head := "nothing lost: "
	if r.Lost() {
		head = "data lost: "
	}
	return head + strings.Join(parts, "; ")
}

// lossLedger sums each stream's losses as its runs end.
type lossLedger struct {
	mu      sync.Mutex
	streams map[string]*StreamLoss
}

func (l *lossLedger) add(stream string, f func(*StreamLoss)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.streams == nil {
		l.streams = map[string]*StreamLoss{}
	}
	s := l.streams[stream]
	if s == nil {
		s = &StreamLoss{Stream: stream}
		l.streams[stream] = s
	}
	f(s)
}

// noteLoss adds what a run of s lost to the ledger, once the run has ended.
func (h *Host) noteLoss(s *streamRunner) {
	c := s.asm.Counters()
	h.losses.add(s.cfg.ID, func(l *StreamLoss) {
		l.FramesDropped += c.Dropped
		l.PluginLost += c.Lost
		l.FramesMissed += c.Missed
		l.TextDropped += c.TextDropped
		l.AudioDropped += c.AudioDropped
	})
}

// Loss reports what the host lost so far: every ended stream run's losses
// and the store writer's. Called after Run (and Close) it covers the
// whole life of the host.
func (h *Host) Loss() LossReport {
	r := LossReport{}
	if h.w != nil {
		r.Rejected, r.HeldAtExit = h.w.rejected.Load(), h.w.heldAtExit.Load()
	}
	h.losses.mu.Lock()
	defer h.losses.mu.Unlock()
	for _, s := range h.losses.streams {
		if s.lost() || s.LateAttached > 0 {
			r.Streams = append(r.Streams, *s)
		}
	}
	sort.Slice(r.Streams, func(i, j int) bool { return r.Streams[i].Stream < r.Streams[j].Stream })
	return r
}
