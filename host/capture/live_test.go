package capture

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/source"
	"github.com/lsie-mlf/lsie/internal/hlstest"
	"github.com/lsie-mlf/lsie/internal/rtmptest"
	"github.com/lsie-mlf/lsie/internal/rtsptest"
)

// Live sources against real servers on 127.0.0.1: RTSP (rtsptest, over
// gst-rtsp-server), RTMP (rtmptest: nginx with its rtmp module) and HLS
// (hlstest: hlssink2 served by net/http).

// stateEvent is one SourceState callback and when it came.
type stateEvent struct {
	SourceStatus
	at time.Time
}

// liveRec records a live capture: it is an avRecorder (callback contract
// checks, audio) that also records states, frame arrival times, and can
// sleep in Frame to play a slow consumer.
type liveRec struct {
	*avRecorder
	mu       sync.Mutex
	states   []stateEvent
	arrivals []time.Time
	sleep    time.Duration
	changed  chan struct{} // poked on every state or frame
}

func newLiveRec() *liveRec {
	return &liveRec{avRecorder: &avRecorder{}, changed: make(chan struct{}, 1)}
}

func (r *liveRec) poke() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *liveRec) Frame(f *Frame) {
	r.avRecorder.Frame(f)
	r.mu.Lock()
	r.arrivals = append(r.arrivals, time.Now())
	r.mu.Unlock()
	r.poke()
	if r.sleep > 0 {
		time.Sleep(r.sleep)
	}
}

func (r *liveRec) SourceState(st SourceStatus) {
	r.enter()
	defer r.leave()
	r.mu.Lock()
	r.states = append(r.states, stateEvent{st, time.Now()})
	r.mu.Unlock()
	r.poke()
}

func (r *liveRec) stateList() []stateEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]stateEvent(nil), r.states...)
}

func (r *liveRec) frameCount() int {
	r.avRecorder.mu.Lock()
	defer r.avRecorder.mu.Unlock()
	return len(r.avRecorder.frames)
}

// waitFor polls cond (on every frame or state, and every 100 ms) until it
// holds or timeout passes.
func (r *liveRec) waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) time.Time {
	t.Helper()
	deadline := time.After(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-r.changed:
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out after %s waiting for %s; states %s", timeout, what, r.describeStates())
		}
	}
	return time.Now()
}

// since returns the states from index i on.
func (r *liveRec) since(i int) []stateEvent {
	s := r.stateList()
	if i > len(s) {
		return nil
	}
	return s[i:]
}

func hasState(states []stateEvent, st SourceState) (stateEvent, bool) {
	for _, e := range states {
		if e.State == st {
			return e, true
		}
	}
	return stateEvent{}, false
}

func (r *liveRec) describeStates() string {
	var out string
	for _, s := range r.stateList() {
		out += fmt.Sprintf(" %s(attempt %d stalled %v %q)", s.State, s.Attempt, s.Stalled, s.Err)
	}
	return out
}

// videoOnly hides a liveRec's audio methods: the capture builds no audio branch.
type videoOnly struct{ r *liveRec }

func (v videoOnly) Frame(f *Frame)              { v.r.Frame(f) }
func (v videoOnly) Progress(t time.Duration)    { v.r.Progress(t) }
func (v videoOnly) SourceState(st SourceStatus) { v.r.SourceState(st) }

// liveCapture starts a realtime capture of uri with h in the background; stop
// cancels it and returns Run's error.
func liveCapture(t *testing.T, uri string, h Handler, rc Reconnect) (c *Capture, stop func() error) {
	t.Helper()
	spec, err := source.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	c, err = New(Config{StreamID: "live", Source: spec, FPS: 10, MaxWidth: 160, Realtime: true, Reconnect: rc}, h)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(10 * time.Second):
				runErr = fmt.Errorf("Run did not return 10 s after cancel")
			}
		})
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return c, stop
}

// checkLiveFrames checks strictly increasing PTS and the recorder's
// callback contract.
func checkLiveFrames(t *testing.T, s avSnapshot) {
	t.Helper()
	for i := 1; i < len(s.frames); i++ {
		if s.frames[i].pts <= s.frames[i-1].pts {
			t.Errorf("frame %d: pts %v after %v", i, s.frames[i].pts, s.frames[i-1].pts)
		}
		if s.frames[i].seq != s.frames[i-1].seq+1 {
			t.Errorf("frame %d: seq %d after %d", i, s.frames[i].seq, s.frames[i-1].seq)
		}
	}
	for _, v := range s.violations {
		t.Error(v)
	}
}

func rtspServer(t *testing.T, audio bool) *rtsptest.Server {
	t.Helper()
	srv := rtsptest.New(rtsptest.Options{Audio: audio})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

func TestRTSPTransports(t *testing.T) {
	srv := rtspServer(t, true)
	for _, tr := range []string{"tcp", "udp"} {
		t.Run(tr, func(t *testing.T) {
			r := newLiveRec()
			c, stop := liveCapture(t, srv.URL()+"?transport="+tr+"&latency=100", r, Reconnect{})
			start := time.Now()
			r.waitFor(t, "12 frames", 15*time.Second, func() bool { return r.frameCount() >= 12 })
			t.Logf("%s: 12 frames after %v", tr, time.Since(start).Round(time.Millisecond))
			if err := stop(); err != nil {
				t.Fatalf("Run: %v", err)
			}
			s := r.snapshot()
			checkLiveFrames(t, s)
			if s.frames[0].w != 160 || s.frames[0].h != 120 {
				t.Errorf("frame size %dx%d, want 160x120", s.frames[0].w, s.frames[0].h)
			}
			delivered, _, _, _ := s.samples()
			if delivered == 0 || s.noAudio != 0 {
				t.Errorf("audio: %d samples delivered, NoAudio %d", delivered, s.noAudio)
			}
			states := r.stateList()
			if len(states) != 2 || states[0].State != SourceConnecting || states[1].State != SourceOK {
				t.Errorf("states %s, want connecting, ok", r.describeStates())
			}
			// Media time tracks the wall clock: the last frame's wall time
			// (anchor + pts) is within a second of when it arrived.
			r.mu.Lock()
			last := r.arrivals[len(r.arrivals)-1]
			r.mu.Unlock()
			if d := last.Sub(c.WallAnchor().Add(s.frames[len(s.frames)-1].pts)); d < 0 || d > time.Second {
				t.Errorf("last frame arrived %v after its wall time", d)
			}
			if st := c.Stats(); st.Stalls != 0 || st.Reconnects != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
	t.Run("no audio track", func(t *testing.T) {
		vsrv := rtspServer(t, false)
		r := newLiveRec()
		_, stop := liveCapture(t, vsrv.URL(), r, Reconnect{})
		r.waitFor(t, "6 frames", 15*time.Second, func() bool { return r.frameCount() >= 6 })
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		s := r.snapshot()
		checkLiveFrames(t, s)
		if s.noAudio != 1 || len(s.events) != 0 {
			t.Errorf("NoAudio called %d times, %d audio events; want once, none", s.noAudio, len(s.events))
		}
		if len(s.progress) < 5 {
			t.Errorf("progress %v: video alone should move it", s.progress)
		}
	})
}

// shortReconnect keeps the tests quick: 200 ms doubling to 1 s, stall after 1 s.
var shortReconnect = Reconnect{Initial: 200 * time.Millisecond, Max: time.Second, Jitter: 0.1, StallTimeout: time.Second}

func TestRTSPReconnect(t *testing.T) {
	srv := rtspServer(t, true)
	r := newLiveRec()
	c, stop := liveCapture(t, srv.URL()+"?transport=tcp&latency=100", r, shortReconnect)
	r.waitFor(t, "10 frames", 15*time.Second, func() bool { return r.frameCount() >= 10 })

	before := r.frameCount()
	nStates := len(r.stateList())
	down := time.Now()
	srv.Stop()
	r.waitFor(t, "degraded, then recovering", 10*time.Second, func() bool {
		_, rec := hasState(r.since(nStates), SourceRecovering)
		return rec
	})
	// Stay down a while: reconnects fail (connection refused) and back off.
	time.Sleep(1500 * time.Millisecond)
	up := time.Now()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	okAt := r.waitFor(t, "ok again", 15*time.Second, func() bool {
		_, ok := hasState(r.since(nStates), SourceOK)
		return ok
	})
	t.Logf("server down %v; ok %v after restart", up.Sub(down).Round(time.Millisecond), okAt.Sub(up).Round(time.Millisecond))
	r.waitFor(t, "10 more frames", 15*time.Second, func() bool { return r.frameCount() >= before+10 })
	if err := stop(); err != nil {
		t.Fatalf("Run = %v, want nil after cancel", err)
	}

	s := r.snapshot()
	checkLiveFrames(t, s)
	// The hole: the first frame after the restart comes at least the
	// downtime after the last one before it, on the wall clock too.
	var hole time.Duration
	for i := 1; i < len(s.frames); i++ {
		hole = max(hole, s.frames[i].pts-s.frames[i-1].pts)
	}
	if downtime := up.Sub(down); hole < downtime {
		t.Errorf("largest pts step %v, want >= downtime %v", hole, downtime)
	}
	t.Logf("hole in the time line %v", hole.Round(time.Millisecond))
	r.mu.Lock()
	last := r.arrivals[len(r.arrivals)-1]
	r.mu.Unlock()
	if d := last.Sub(c.WallAnchor().Add(s.frames[len(s.frames)-1].pts)); d < 0 || d > time.Second {
		t.Errorf("after the reconnect the last frame arrived %v after its wall time", d)
	}
	// Audio: the hole is one reconnect gap; chunks and gaps tile the line.
	checkTiling(t, s.events, nil)
	var reconnectGap int64
	for _, e := range s.events {
		if e.gap && e.reason == GapReconnect {
			reconnectGap += e.n
		}
	}
	if sampleTime(reconnectGap) < up.Sub(down) {
		t.Errorf("reconnect audio gap %v, want >= downtime", sampleTime(reconnectGap))
	}
	// States: degraded (with the error) before recovering, attempts counted.
	states := r.since(nStates)
	deg, _ := hasState(states, SourceDegraded)
	if deg.Err == "" || deg.Attempt < 1 {
		t.Errorf("degraded state %+v", deg)
	}
	for i, e := range states {
		if e.State == SourceRecovering && (i == 0 || states[i-1].State != SourceDegraded) {
			t.Errorf("recovering not after degraded: %s", r.describeStates())
		}
	}
	if st := c.Stats(); st.Reconnects < 1 {
		t.Errorf("stats %+v, want reconnects >= 1", st)
	}
	t.Logf("states:%s", r.describeStates())
}

func TestRTSPStallVsBackpressure(t *testing.T) {
	srv := rtspServer(t, false)
	t.Run("slow handler is not a stall", func(t *testing.T) {
		r := newLiveRec()
		r.sleep = 300 * time.Millisecond
		c, stop := liveCapture(t, srv.URL()+"?transport=tcp&latency=100", videoOnly{r}, shortReconnect)
		r.waitFor(t, "8 frames", 20*time.Second, func() bool { return r.frameCount() >= 8 })
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if st := c.Stats(); st.Stalls != 0 || st.Reconnects != 0 {
			t.Errorf("slow handler: stats %+v, want no stall, no reconnect", st)
		}
		if _, deg := hasState(r.stateList(), SourceDegraded); deg {
			t.Errorf("slow handler degraded the source: %s", r.describeStates())
		}
		checkLiveFrames(t, r.snapshot())
	})
	t.Run("silent connection is a stall", func(t *testing.T) {
		r := newLiveRec()
		c, stop := liveCapture(t, srv.URL()+"?transport=tcp&latency=100", videoOnly{r}, shortReconnect)
		r.waitFor(t, "5 frames", 15*time.Second, func() bool { return r.frameCount() >= 5 })
		n := len(r.stateList())
		blocked := time.Now()
		srv.Block(true)
		degAt := r.waitFor(t, "stall", 10*time.Second, func() bool {
			_, d := hasState(r.since(n), SourceDegraded)
			return d
		})
		srv.Block(false)
		delay := degAt.Sub(blocked)
		t.Logf("stall detected %v after the server went silent (StallTimeout %v)", delay.Round(time.Millisecond), shortReconnect.StallTimeout)
		// The last packet may have left a frame period before the block.
		if delay < shortReconnect.StallTimeout-200*time.Millisecond || delay > shortReconnect.StallTimeout+time.Second {
			t.Errorf("stall detected after %v, want StallTimeout %v + < 1 s", delay, shortReconnect.StallTimeout)
		}
		deg, _ := hasState(r.since(n), SourceDegraded)
		if !deg.Stalled {
			t.Errorf("degraded %+v, want Stalled", deg)
		}
		before := r.frameCount()
		r.waitFor(t, "frames after the stall", 15*time.Second, func() bool { return r.frameCount() >= before+5 })
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if st := c.Stats(); st.Stalls != 1 || st.Reconnects < 1 {
			t.Errorf("stats %+v, want 1 stall and a reconnect", st)
		}
		checkLiveFrames(t, r.snapshot())
	})
}

func TestRTMP(t *testing.T) {
	srv := rtmptest.Start(t)
	uri := srv.URL("test")
	pub := srv.Publish(t, "test")
	r := newLiveRec()
	c, stop := liveCapture(t, uri, r, shortReconnect)
	start := time.Now()
	r.waitFor(t, "12 frames", 20*time.Second, func() bool { return r.frameCount() >= 12 })
	t.Logf("12 frames after %v", time.Since(start).Round(time.Millisecond))

	// The publisher goes away and comes back: the capture reconnects.
	n, before := len(r.stateList()), r.frameCount()
	down := time.Now()
	pub.Stop()
	r.waitFor(t, "degraded", 10*time.Second, func() bool {
		_, d := hasState(r.since(n), SourceDegraded)
		return d
	})
	up := time.Now()
	pub.Restart()
	okAt := r.waitFor(t, "ok again", 20*time.Second, func() bool {
		_, ok := hasState(r.since(n), SourceOK)
		return ok
	})
	t.Logf("publisher down %v; ok %v after it came back", up.Sub(down).Round(time.Millisecond), okAt.Sub(up).Round(time.Millisecond))
	r.waitFor(t, "10 more frames", 20*time.Second, func() bool { return r.frameCount() >= before+10 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	s := r.snapshot()
	checkLiveFrames(t, s)
	checkTiling(t, s.events, nil)
	if delivered, _, _, _ := s.samples(); delivered == 0 || s.noAudio != 0 {
		t.Errorf("audio: %d samples, NoAudio %d", delivered, s.noAudio)
	}
	r.mu.Lock()
	last := r.arrivals[len(r.arrivals)-1]
	r.mu.Unlock()
	if d := last.Sub(c.WallAnchor().Add(s.frames[len(s.frames)-1].pts)); d < -100*time.Millisecond || d > time.Second {
		t.Errorf("last frame arrived %v after its wall time", d)
	}
	if st := c.Stats(); st.Reconnects < 1 {
		t.Errorf("stats %+v", st)
	}
	t.Logf("states:%s", r.describeStates())
}

func TestHLS(t *testing.T) {
	srv := hlstest.Start(t)
	r := newLiveRec()
	c, stop := liveCapture(t, srv.URL(), r, Reconnect{StallTimeout: 3 * time.Second})
	start := time.Now()
	r.waitFor(t, "15 frames", 20*time.Second, func() bool { return r.frameCount() >= 15 })
	t.Logf("15 frames after %v", time.Since(start).Round(time.Millisecond))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	s := r.snapshot()
	checkLiveFrames(t, s)
	checkTiling(t, s.events, nil)
	if delivered, _, _, _ := s.samples(); delivered == 0 || s.noAudio != 0 {
		t.Errorf("audio: %d samples, NoAudio %d", delivered, s.noAudio)
	}
	// Paced like a camera: frames at ~10 fps, not the segments' burst.
	r.mu.Lock()
	span := r.arrivals[len(r.arrivals)-1].Sub(r.arrivals[0])
	r.mu.Unlock()
	if span < time.Second {
		t.Errorf("%d frames arrived within %v: not paced", len(s.frames), span)
	}
	r.mu.Lock()
	last := r.arrivals[len(r.arrivals)-1]
	r.mu.Unlock()
	if d := last.Sub(c.WallAnchor().Add(s.frames[len(s.frames)-1].pts)); d < -100*time.Millisecond || d > time.Second {
		t.Errorf("last frame arrived %v after its wall time", d)
	}
	if st := c.Stats(); st.Stalls != 0 {
		t.Errorf("stats %+v", st)
	}
	t.Logf("states:%s", r.describeStates())
}

// GStreamer's messages quote the location: the password and credential
// query values in it are masked before they reach a log or a hint.
func TestRedactMasksCredentialParams(t *testing.T) {
	spec, err := source.Parse("rtsp://user:pa%20ss@cam.example:8554/live?token=s3cr3t&transport=tcp")
	if err != nil {
		t.Fatal(err)
	}
	c := &Capture{secrets: spec.Secrets()}
	msg := "Could not open resource for reading: rtsp://user:pa%20ss@cam.example:8554/live?token=s3cr3t (pa ss, s3cr3t)"
	got := c.redact(msg)
	for _, secret := range []string{"s3cr3t", "pa ss", "pa%20ss"} {
		if strings.Contains(got, secret) {
			t.Errorf("%q survives in %q", secret, got)
		}
	}
	if !strings.Contains(got, "token=xxxxx") || !strings.Contains(got, "cam.example") {
		t.Errorf("too much masked: %q", got)
	}
}
