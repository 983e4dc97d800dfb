package capture

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"strings"
	"time"

	"github.com/go-gst/go-gst/gst"
	"github.com/go-gst/go-gst/gst/app"
)

// Reconnect says how a live network source recovers from errors and stalls.
type Reconnect struct {
	// Initial is the wait after the first failure; each further consecutive
	// failure doubles it, up to Max.
	Initial, Max time.Duration
	// Jitter spreads every wait uniformly over ±Jitter of it (0..1), so
	// cameras that failed together do not come back in step.
	Jitter float64
	// StallTimeout: no buffer out of the source (or its demuxer) for this
	// long while playing is a stall. Until a connection's first buffer the
	// allowance is connectTimeout(StallTimeout): connecting (the RTSP
	// handshake, a server preparing its media, an HLS playlist and first
	// segment) takes longer than a gap between buffers. For HLS, keep it
	// above the playlist's segment duration.
	StallTimeout time.Duration
}

// connectTimeout is how long an attempt may go without its first buffer:
// twice the stall timeout, at least 10 s.
func connectTimeout(stall time.Duration) time.Duration { return max(2*stall, 10*time.Second) }

// DefaultReconnect is 1 s doubling up to 30 s, ±20 %, stall after 5 s.
func DefaultReconnect() Reconnect {
	return Reconnect{Initial: time.Second, Max: 30 * time.Second, Jitter: 0.2, StallTimeout: 5 * time.Second}
}

// normalize fills a Reconnect: the zero value is DefaultReconnect; in a
// partly set one, zero durations take their defaults (Max at least Initial)
// and Jitter is kept as given.
func (r Reconnect) normalize() (Reconnect, error) {
	d := DefaultReconnect()
	if r == (Reconnect{}) {
		return d, nil
	}
	if r.Initial == 0 {
		r.Initial = d.Initial
	}
	if r.Max == 0 {
		r.Max = max(d.Max, r.Initial)
	}
	if r.StallTimeout == 0 {
		r.StallTimeout = d.StallTimeout
	}
	switch {
	case r.Initial < 0 || r.Max < 0 || r.StallTimeout < 0:
		return r, fmt.Errorf("reconnect: negative duration in %+v", r)
	case r.Max < r.Initial:
		return r, fmt.Errorf("reconnect: max %s is below initial %s", r.Max, r.Initial)
	case math.IsNaN(r.Jitter) || r.Jitter < 0 || r.Jitter > 1:
		return r, fmt.Errorf("reconnect: jitter must be 0..1, got %v", r.Jitter)
	}
	return r, nil
}

// backoff is the wait before reconnect attempt n (n >= 1 consecutive
// failures): Initial×2^(n-1), at most Max, scaled by 1 + Jitter×(2u-1) for u
// uniform in [0, 1).
func (r Reconnect) backoff(n int, u float64) time.Duration {
	d := r.Initial
	for i := 1; i < n && d < r.Max; i++ {
		d *= 2
	}
	d = min(d, r.Max)
	return time.Duration(float64(d) * (1 + r.Jitter*(2*u-1)))
}

// SourceState is the health of a capture's source.
type SourceState string

// Source states. A live network source goes connecting → ok, and on an
// error or a stall degraded → (backoff) recovering → ok again, as often as
// needed. SourceFailed is final: a file or test source whose Run returned a
// *SourceError.
const (
	SourceConnecting SourceState = "connecting"
	SourceOK         SourceState = "ok"
	SourceDegraded   SourceState = "degraded"
	SourceRecovering SourceState = "recovering"
	SourceFailed     SourceState = "error"
)

// SourceStatus is one state change.
type SourceStatus struct {
	State SourceState
	// Err is GStreamer's message (or the stall) that degraded or failed the
	// source, credentials redacted.
	Err string
	// Attempt numbers reconnects since the source last delivered: 0 for the
	// first connection, n while degraded after, recovering for, or ok
	// thanks to the n-th.
	Attempt int
	// Stalled says the source degraded because no data came for
	// Reconnect.StallTimeout, not because of an error.
	Stalled bool
}

// StateHandler is optionally implemented by the Handler; called (serialised
// with the other callbacks) on every state change.
type StateHandler interface{ SourceState(st SourceStatus) }

// setState records st and reports it to a StateHandler (under hmu, as every
// handler call). Not after the capture was cancelled.
func (c *Capture) setState(st SourceStatus) {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	c.stateLocked(st)
}

// stateLocked is setState for a caller holding hmu.
func (c *Capture) stateLocked(st SourceStatus) {
	if c.stopped() {
		return
	}
	c.status.Store(&st)
	if c.sh != nil {
		c.sh.SourceState(st)
	}
}

// Status is the source's current state (SourceConnecting before Run).
func (c *Capture) Status() SourceStatus {
	if st := c.status.Load(); st != nil {
		return *st
	}
	return SourceStatus{State: SourceConnecting}
}

// runLive plays a live network source until ctx is cancelled, rebuilding its
// pipeline after every error or stall (it never returns a source error).
func (c *Capture) runLive(ctx context.Context) error {
	failures := 0
	for {
		var stalled bool
		var err error
		if g := c.graph(); g != nil {
			stalled, err = c.attempt(ctx, g)
		} else if g, err = c.build(); err == nil {
			c.install(g, failures)
			c.tl.countReconnect()
			stalled, err = c.attempt(ctx, g)
		}
		if ctx.Err() != nil {
			return nil
		}
		if c.delivered() {
			failures = 0
		}
		failures++
		if stalled {
			c.tl.countStall()
		}
		msg := c.redact(errMessage(err))
		c.log.Warn("source lost; reconnecting", "source", c.cfg.Source.Redacted(), "error", msg, "attempt", failures, "stalled", stalled)
		c.setState(SourceStatus{State: SourceDegraded, Err: msg, Attempt: failures, Stalled: stalled})
		c.teardown()
		wait := c.rc.backoff(failures, rand.Float64())
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		c.log.Info("reconnecting", "attempt", failures, "after", wait.Round(time.Millisecond))
		c.setState(SourceStatus{State: SourceRecovering, Attempt: failures})
	}
}

// errMessage is what a degraded state shows of err.
func errMessage(err error) string {
	var se *SourceError
	switch {
	case errors.As(err, &se):
		return se.Message
	case err != nil:
		return err.Error()
	}
	return "unknown error"
}

// attempt plays g until an error, end of stream, a stall (stalled true) or
// cancellation (nil error).
func (c *Capture) attempt(ctx context.Context, g *graph) (stalled bool, err error) {
	c.wd.arm()
	bus := g.pipeline.GetPipelineBus()
	if err := g.pipeline.SetState(gst.StatePlaying); err != nil {
		if msg := bus.TimedPopFiltered(gst.ClockTime(time.Second), gst.MessageError); msg != nil {
			return false, c.sourceError(msg)
		}
		return false, &SourceError{StreamID: c.cfg.StreamID, Message: err.Error()}
	}
	for {
		select {
		case <-ctx.Done():
			return false, nil
		case err := <-c.asyncErr:
			return false, err
		default:
		}
		limit, what := c.rc.StallTimeout, "stalled: no data from the source for %s"
		if c.wd.buffers() == 0 {
			limit, what = connectTimeout(limit), "stalled: no data from the source %s after connecting"
		}
		if idle := c.wd.idle(); idle >= limit {
			return true, &SourceError{StreamID: c.cfg.StreamID, Element: "src", Message: fmt.Sprintf(what, idle.Round(time.Millisecond))}
		}
		msg := bus.TimedPopFiltered(gst.ClockTime(busPoll), gst.MessageEOS|gst.MessageError|gst.MessageWarning)
		if msg == nil {
			continue
		}
		switch msg.Type() {
		case gst.MessageError:
			return false, c.sourceError(msg)
		case gst.MessageWarning:
			if gerr := msg.ParseWarning(); gerr != nil {
				c.log.Warn("pipeline warning", "element", msg.Source(), "message", c.redact(gerr.Error()), "debug", c.redact(gerr.DebugString()))
			}
		case gst.MessageEOS:
			return false, &SourceError{StreamID: c.cfg.StreamID, Message: "end of stream"}
		}
	}
}

// install makes g the current graph: appsink callbacks set, attempt state
// reset (failures is the number of this reconnect, 0 for the first).
func (c *Capture) install(g *graph, failures int) {
	if g.sink != nil {
		g.sink.SetCallbacks(&app.SinkCallbacks{NewSampleFunc: c.onSample, EOSFunc: c.onVideoEOS})
	}
	if g.audioSink != nil {
		g.audioSink.SetCallbacks(&app.SinkCallbacks{NewSampleFunc: c.onAudioSample, EOSFunc: c.onAudioEOS})
	}
	c.hmu.Lock()
	c.att = attemptState{n: failures}
	// A source known to have no video keeps progress on its audio; one
	// that had video waits for this attempt's pads to say.
	c.tl.setVideoOff(c.noVideoOnce.Load())
	c.hmu.Unlock()
	c.gp.Store(g)
}

// delivered reports whether the current attempt reached the handler.
func (c *Capture) delivered() bool {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	return c.att.resumed
}

// teardown sets the current pipeline to NULL (its streaming threads stop)
// and drops it. Errors it reported on its way down are dropped with it.
func (c *Capture) teardown() {
	g := c.graph()
	if g == nil {
		return
	}
	if err := g.pipeline.SetState(gst.StateNull); err != nil {
		c.log.Warn("set pipeline to NULL", "error", err)
	}
	g.disconnect()
	c.gp.Store(nil)
	if c.pace != nil {
		c.pace.reset()
	}
	c.hmu.Lock()
	c.att = attemptState{}
	c.hmu.Unlock()
	select {
	case <-c.asyncErr:
	default:
	}
}

// attemptState is the current pipeline's progress (under hmu).
type attemptState struct {
	n       int  // reconnect number, 0 for the first connection
	resumed bool // a buffer reached the handler side: the attempt is placed on the time line
}

// firstBuffer runs under hmu for every buffer reaching an appsink; the first
// of an attempt places it on the time line and reports the source ok.
func (c *Capture) firstBuffer(g *graph, running time.Duration) {
	if c.att.resumed {
		return
	}
	c.att.resumed = true
	if c.live {
		c.resume(g, running, time.Now())
	} else {
		c.setAnchor(g, running)
	}
	c.stateLocked(SourceStatus{State: SourceOK, Attempt: c.att.n})
}

// resume places a live source's attempt on the time line at its first
// buffer (running time running, arriving at now), under hmu. The first
// attempt sets the wall anchor; a later one continues the time line at the
// wall time elapsed since it, declaring the hole: progress jumps over it and
// audio gets a GapReconnect gap.
func (c *Capture) resume(g *graph, running time.Duration, now time.Time) {
	// age: how long ago the buffer was captured, on the pipeline clock. A
	// clocked source's buffer times are running times; an unclocked one's
	// are the stream's own, shifted onto the clock by the pace offset (the
	// first buffer counts as captured on arrival).
	var age time.Duration
	clockTime, known := running, !c.unclocked
	if c.unclocked {
		if off, ok := c.pace.offset(); ok {
			clockTime, known = running+off, true
		}
	}
	if known && g != nil {
		if rn, ok := runningNow(g.pipelinePtr); ok && rn > clockTime {
			age = rn - clockTime
		}
	}
	a := c.anchor.Load()
	first := a == nil
	if first {
		// Media time 0: the pipeline's start for a clocked source (as for a
		// test source), the first buffer's capture for an unclocked one.
		back := age
		if !c.unclocked {
			back += running
		}
		t := now.Add(-back).Round(0)
		c.anchor.Store(&t)
		a = &t
	}
	offset, at := resumeAt(now.Sub(*a), age, running, c.tl.reached())
	c.tl.restart(offset, at)
	base := int64(offset) / sampleNanos
	if first || !c.audioSeen.Load() {
		c.al.base = base
	} else {
		c.al.restart(base, sampleCeil(at), GapReconnect)
	}
	if first {
		return
	}
	c.log.Info("source back", "attempt", c.att.n, "media_time", at)
	if (c.audioSeen.Load() || c.tl.audioMode() == audioOff) && c.tl.advance(at) {
		c.h.Progress(at)
	}
}

// resumeAt places the first buffer of an attempt on the time line: at its
// wall-clock position (elapsed since the anchor, less its age), never before
// reached (where the time line got to before). It returns the attempt's
// offset (media = running + offset), rounded up to a whole audio sample so
// the sample line stays exact, and the buffer's media time at.
func resumeAt(elapsed, age, running, reached time.Duration) (offset, at time.Duration) {
	at = max(elapsed-age, reached)
	offset = ceilSample(at - running)
	return offset, running + offset
}

// ceilSample rounds d (of either sign) up to a whole number of samples.
func ceilSample(d time.Duration) time.Duration {
	q := int64(d) / sampleNanos
	if int64(d)%sampleNanos > 0 {
		q++
	}
	return time.Duration(q * sampleNanos)
}

// redact removes the source's password from a message (GStreamer's, or an
// error's) in its plain and URL-escaped forms.
func (c *Capture) redact(s string) string {
	for _, secret := range c.secrets {
		s = strings.ReplaceAll(s, secret, "xxxxx")
		if esc := url.PathEscape(secret); esc != secret {
			s = strings.ReplaceAll(s, esc, "xxxxx")
		}
		if esc := url.QueryEscape(secret); esc != secret {
			s = strings.ReplaceAll(s, esc, "xxxxx")
		}
	}
	return s
}
