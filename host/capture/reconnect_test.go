package capture

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

func TestReconnectNormalize(t *testing.T) {
	d := DefaultReconnect()
	if d != (Reconnect{Initial: time.Second, Max: 30 * time.Second, Jitter: 0.2, StallTimeout: 5 * time.Second}) {
		t.Fatalf("DefaultReconnect = %+v", d)
	}
	tests := []struct {
		in   Reconnect
		want Reconnect
		err  string
	}{
		{in: Reconnect{}, want: d},
		{in: Reconnect{Initial: 100 * time.Millisecond}, want: Reconnect{Initial: 100 * time.Millisecond, Max: 30 * time.Second, StallTimeout: 5 * time.Second}},
		{in: Reconnect{Initial: time.Minute}, want: Reconnect{Initial: time.Minute, Max: time.Minute, StallTimeout: 5 * time.Second}},
		{in: Reconnect{StallTimeout: time.Second, Jitter: 0.5}, want: Reconnect{Initial: time.Second, Max: 30 * time.Second, Jitter: 0.5, StallTimeout: time.Second}},
		{in: Reconnect{Initial: 2 * time.Second, Max: time.Second}, err: "max 1s is below initial 2s"},
		{in: Reconnect{Initial: -time.Second}, err: "negative duration"},
		{in: Reconnect{Jitter: -0.1}, err: "jitter must be 0..1"},
		{in: Reconnect{Jitter: 1.5}, err: "jitter must be 0..1"},
	}
	for _, tc := range tests {
		got, err := tc.in.normalize()
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("normalize(%+v) = %v, want error %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("normalize(%+v) = %+v, %v, want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	r := Reconnect{Initial: time.Second, Max: 30 * time.Second, Jitter: 0.2}
	for _, tc := range []struct {
		n    int
		u    float64
		want time.Duration
	}{
		{1, 0.5, time.Second},
		{2, 0.5, 2 * time.Second},
		{5, 0.5, 16 * time.Second},
		{6, 0.5, 30 * time.Second},
		{1000, 0.5, 30 * time.Second},
		{1, 0, 800 * time.Millisecond},
		{3, 0.75, 4400 * time.Millisecond},
		{6, 0, 24 * time.Second},
	} {
		if got := r.backoff(tc.n, tc.u); got != tc.want {
			t.Errorf("backoff(%d, %v) = %v, want %v", tc.n, tc.u, got, tc.want)
		}
	}
	if got := (Reconnect{Initial: time.Second, Max: time.Second}).backoff(3, 0.99); got != time.Second {
		t.Errorf("no jitter: %v", got)
	}
}

func TestCeilSample(t *testing.T) {
	for _, tc := range []struct{ in, want time.Duration }{
		{0, 0},
		{1, 62500},
		{62500, 62500},
		{62501, 125000},
		{-1, 0},
		{-62500, -62500},
		{-62501, -62500},
		{-3 * time.Second, -3 * time.Second},
	} {
		if got := ceilSample(tc.in); got != tc.want {
			t.Errorf("ceilSample(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestResumeAt(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name                           string
		elapsed, age, running, reached time.Duration
		offset, at                     time.Duration
	}{
		// First connection of a clocked source (rtsp): the anchor is the
		// pipeline's start, so elapsed = running + age and media = running.
		{"first clocked", 1200 * ms, 200 * ms, 1000 * ms, 0, 0, 1000 * ms},
		// First connection of an unclocked source (rtmp: FLV times start at
		// 3 s): media time 0 is the first buffer.
		{"first unclocked", 0, 0, 3 * time.Second, 0, -3 * time.Second, 0},
		// A reconnect 10 s into the stream, the time line had reached 4 s:
		// the first new buffer (captured 200 ms ago) sits at 9.8 s.
		{"reconnect", 10 * time.Second, 200 * ms, 300 * ms, 4 * time.Second, 9500 * ms, 9800 * ms},
		// The wall clock stepped back: never before where the line got to.
		{"never back", 3 * time.Second, 0, 300 * ms, 4 * time.Second, 3700 * ms, 4 * time.Second},
		// The offset is a whole number of samples, rounded up.
		{"whole samples", time.Second, 0, 1, 0, time.Second, time.Second + 1},
		{"whole samples 2", 10*time.Second + 30_000, 0, 0, 0, 10*time.Second + 62_500, 10*time.Second + 62_500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			off, at := resumeAt(tc.elapsed, tc.age, tc.running, tc.reached)
			if off != tc.offset || at != tc.at {
				t.Errorf("resumeAt = %v, %v, want %v, %v", off, at, tc.offset, tc.at)
			}
			if at < tc.reached || at != tc.running+off || int64(off)%sampleNanos != 0 {
				t.Errorf("invariants broken: at %v reached %v offset %v", at, tc.reached, off)
			}
		})
	}
}

// TestReconnectTimeLine drives a live capture's time line through a
// reconnect without GStreamer: an unclocked source (its first attempt's
// buffers start at running time 3 s) delivers 1 s, goes away, and comes back
// 5 s after its start with running times from 0.5 s.
func TestReconnectTimeLine(t *testing.T) {
	r := &avRecorder{}
	c := &Capture{h: r, ah: r, live: true, unclocked: true, log: hclog.NewNullLogger(), stop: make(chan struct{}),
		pace: newCPace(), period: 100 * time.Millisecond}
	defer c.pace.free()
	c.tl.period = c.period
	c.al = newAudioLine(c)
	c.audioLinked()
	pcm := make([]byte, 2*1600) // 100 ms
	frame := func(running time.Duration) (time.Duration, bool) {
		pts, _, ok := c.tl.frame(running, 2, 2)
		if ok {
			r.Frame(&Frame{PTS: pts})
			c.report()
		}
		return pts, ok
	}
	audio := func(running time.Duration) {
		c.al.push(running, pcm, false)
		c.report()
	}

	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	c.resume(nil, 3*time.Second, t0)
	if a := c.WallAnchor(); !a.Equal(t0) {
		t.Fatalf("anchor %v, want the first buffer's arrival %v", a, t0)
	}
	for i := range 10 {
		at := 3*time.Second + time.Duration(i)*100*time.Millisecond
		if pts, ok := frame(at); !ok || pts != time.Duration(i)*100*time.Millisecond {
			t.Fatalf("frame %d: pts %v ok %v", i, pts, ok)
		}
		audio(at)
	}
	if st := c.tl.stats(); st.Progress != time.Second || st.AudioSamples != 16000 {
		t.Fatalf("before the outage: %+v", st)
	}

	// The source comes back at t0+5s; the new pipeline's first buffer is
	// audio at running 0.5 s.
	c.resume(nil, 500*time.Millisecond, t0.Add(5*time.Second))
	audio(500 * time.Millisecond)
	if pts, ok := frame(400 * time.Millisecond); ok {
		t.Errorf("a frame at %v, inside the hole, was accepted", pts)
	}
	if pts, ok := frame(500 * time.Millisecond); !ok || pts != 5*time.Second {
		t.Errorf("first frame after the hole: pts %v ok %v, want 5s", pts, ok)
	}
	audio(600 * time.Millisecond)
	if pts, ok := frame(600 * time.Millisecond); !ok || pts != 5100*time.Millisecond {
		t.Errorf("second frame: pts %v ok %v", pts, ok)
	}

	s := r.snapshot()
	for _, v := range s.violations {
		t.Error(v)
	}
	end := checkTiling(t, s.events, nil)
	var gaps []avEvent
	for _, e := range s.events {
		if e.gap {
			gaps = append(gaps, e)
		}
	}
	if len(gaps) != 1 || gaps[0].reason != GapReconnect || gaps[0].first != 16000 || gaps[0].n != 4*16000 {
		t.Errorf("gaps %+v, want one reconnect gap of samples [16000, 80000)", gaps)
	}
	if end != 80000+3200 {
		t.Errorf("audio line ends at %d, want %d", end, 80000+3200)
	}
	var sawHoleEnd bool
	for _, p := range s.progress {
		if p == 5*time.Second {
			sawHoleEnd = true
		}
	}
	if !sawHoleEnd {
		t.Errorf("progress %v never reported the hole's end (5s)", s.progress)
	}
	if st := c.tl.stats(); st.Frames != 12 || st.Discarded != 1 || st.Progress != 5200*time.Millisecond {
		t.Errorf("stats %+v", st)
	}
}
