package main

// Lossless streams and plugin restarts (issue #15 item 4): a plugin killed
// with SIGKILL in a lossless run gets again everything its dead process
// held or had not acknowledged, so every frame, audio hop and final message
// is processed exactly once, as in a run without kills.

import (
	"fmt"
	"github.com/lsie-mlf/lsie/internal/testenv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/internal/proctest"
)

const (
	losslessSeconds = 20
	losslessFrames  = losslessSeconds * 10  // fps = 10
	losslessHops    = losslessSeconds * 100 // acoustic: one hop per 10 ms
	losslessUtterMS = 500
	// losslessGateMS is the media time of the faultplugin frame the stream
	// waits at until the test has made its kills: the run cannot end
	// before them.
	losslessGateMS = (losslessSeconds - 2) * 1000
)

// losslessConfig runs one lossless stream with frames, audio and the plugin
// graph: visual and faultplugin (frames), acoustic (10 ms hops), talker →
// listener (finals). faultplugin holds the stream at a gate. faultplugin
// (frames) and talker (audio) take 20 ms per record and listener 150 ms per
// final, so the kills fall while work flows and finds work in flight.
func losslessConfig(t *testing.T, dir, gate string) string {
	t.Helper()
	return writeConfig(t, dir, fmt.Sprintf(`segment {
  duration = "1s"
  max_close_delay = "2m"
}
store { sqlite = %q }
api { listen = "127.0.0.1:0" }
stream "lossless" {
  source = "test://smpte?width=160&height=120&fps=10&duration=%ds&audio=440"
  realtime = false
  video { fps = 10 }
  plugin "visual" {
    window = 4
  }
  plugin "acoustic" {}
  plugin "talker" {
    utter_ms = %d
    slow_ms = 20
  }
  plugin "listener" {
    slow_ms = 150
  }
  plugin "faultplugin" {
    window = 4
    slow_ms = "20"
    gate_ms = "%d"
    gate_file = %q
  }
}
`, filepath.Join(dir, "lsie.db"), losslessSeconds, losslessUtterMS, losslessGateMS, gate))
}

// losslessCounts is what one run stored, summed over its segments.
type losslessCounts struct {
	segments, framesSeen, framesDropped int
	// analysed are frames analysed per video plugin.
	analysed map[string]int
	// errors, skipped are per plugin, over every plugin.
	errors, skipped, textDropped map[string]int
	// hops counts acoustic items per media time; finals and answered count
	// talker's finals and listener's answers per utterance.
	hops, finals, answered map[time.Duration]int
	answerOrder            []int
	partials               int
	audioSeconds           float64
	reasons                []string
}

func collectLossless(t *testing.T, h *runningHost) losslessCounts {
	t.Helper()
	var sl segmentList
	h.get(t, "/api/v1/streams/lossless/segments", &sl)
	c := losslessCounts{segments: len(sl.Segments), analysed: map[string]int{}, errors: map[string]int{}, skipped: map[string]int{},
		textDropped: map[string]int{}, hops: map[time.Duration]int{}, finals: map[time.Duration]int{}, answered: map[time.Duration]int{}}
	for _, s := range sl.Segments {
		var seg model.Segment
		h.get(t, fmt.Sprintf("/api/v1/segments/lossless/%d", s.Index), &seg)
		c.framesSeen += seg.FramesSeen
		c.framesDropped += seg.FramesDropped
		c.reasons = append(c.reasons, seg.Reasons...)
		if seg.Status != model.SegmentComplete {
			t.Errorf("lossless/%d: %s %v", seg.Index, seg.Status, seg.Reasons)
		}
		for name, p := range seg.Plugins {
			c.errors[name] += p.Errors
			c.skipped[name] += p.FramesSkipped
			c.textDropped[name] += p.TextDropped
			if name == "visual" || name == "faultplugin" {
				c.analysed[name] += p.FramesAnalysed
			}
			for _, it := range p.Items {
				if it.Error != "" {
					t.Errorf("lossless/%d %s: item error %s", seg.Index, name, it.Error)
				}
				if it.PTS < seg.MediaStart || it.PTS >= seg.MediaEnd {
					t.Errorf("lossless/%d %s: item at %v outside %v–%v", seg.Index, name, it.PTS, seg.MediaStart, seg.MediaEnd)
				}
			}
		}
		c.audioSeconds += seg.Plugins["acoustic"].AudioSeconds
		for _, it := range seg.Plugins["acoustic"].Items {
			c.hops[it.PTS]++
		}
		for _, it := range seg.Plugins["talker"].Items {
			switch it.Topic {
			case "transcript.final@1":
				c.finals[it.PTS]++
			case "transcript.partial@1":
				c.partials++
			}
		}
		for _, it := range seg.Plugins["listener"].Items {
			if it.Fields["partial"] == 1 {
				continue
			}
			c.answered[it.PTS]++
			c.answerOrder = append(c.answerOrder, int(it.Fields["utt"]))
			if it.Text != fmt.Sprintf("heard utt %d", int(it.Fields["utt"])) || it.Fields["words"] != 2 {
				t.Errorf("lossless/%d: listener answered %q %v", seg.Index, it.Text, it.Fields)
			}
		}
	}
	slices.Sort(c.reasons)
	c.reasons = slices.Compact(c.reasons)
	return c
}

// checkExactlyOnce asserts every frame, hop and final of the run is there
// exactly once, with no error, no loss and nothing skipped.
func checkExactlyOnce(t *testing.T, run string, c losslessCounts) {
	t.Helper()
	if c.segments != losslessSeconds || c.framesSeen != losslessFrames || c.framesDropped != 0 {
		t.Errorf("%s: %d segments, %d frames seen, %d dropped; want %d, %d, 0", run, c.segments, c.framesSeen, c.framesDropped, losslessSeconds, losslessFrames)
	}
	if len(c.reasons) > 0 {
		t.Errorf("%s: segment reasons %v", run, c.reasons)
	}
	for _, name := range []string{"visual", "faultplugin"} {
		if c.analysed[name] != c.framesSeen {
			t.Errorf("%s: %s analysed %d of %d frames", run, name, c.analysed[name], c.framesSeen)
		}
	}
	for name, n := range c.errors {
		if n != 0 || c.skipped[name] != 0 || c.textDropped[name] != 0 {
			t.Errorf("%s: %s errors %d, skipped %d, text dropped %d", run, name, n, c.skipped[name], c.textDropped[name])
		}
	}
	if c.audioSeconds != losslessSeconds {
		t.Errorf("%s: acoustic analysed %v s of audio, want %d", run, c.audioSeconds, losslessSeconds)
	}
	var missing, twice []time.Duration
	for k := range losslessHops {
		pts := time.Duration(k) * 10 * time.Millisecond
		switch n := c.hops[pts]; {
		case n == 0:
			missing = append(missing, pts)
		case n > 1:
			twice = append(twice, pts)
		}
	}
	if len(c.hops) != losslessHops || len(missing) > 0 || len(twice) > 0 {
		t.Errorf("%s: %d distinct acoustic hops, want %d; missing %v; more than once %v", run, len(c.hops), losslessHops, head(missing), head(twice))
	}
	want := utterances(losslessSeconds, losslessUtterMS)
	for _, n := range want {
		pts := time.Duration(n*losslessUtterMS) * time.Millisecond
		if c.finals[pts] != 1 || c.answered[pts] != 1 {
			t.Errorf("%s: utterance %d published %d times, answered %d times", run, n, c.finals[pts], c.answered[pts])
		}
	}
	if len(c.finals) != len(want) || len(c.answered) != len(want) || !slices.Equal(c.answerOrder, want) {
		t.Errorf("%s: %d finals, %d answered, in order %v; want %v", run, len(c.finals), len(c.answered), c.answerOrder, want)
	}
	if c.partials != 0 {
		t.Errorf("%s: %d partials stored, but every utterance has its final", run, c.partials)
	}
}

func head(d []time.Duration) []time.Duration { return d[:min(len(d), 10)] }

// losslessPID returns the running process of plugin name under the host,
// or 0 while there is none (restarting).
func losslessPID(h *runningHost, name string) int {
	for _, pid := range proctest.Children(h.cmd.Process.Pid) {
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err == nil && strings.TrimSpace(string(comm)) == name && !proctest.Gone(pid) {
			return pid
		}
	}
	return 0
}

// losslessCounter is the health counter that says how much a plugin has
// processed: frames, audio chunks, or messages answered.
var losslessCounter = map[string]string{
	"visual":      "plugin.visual.analysed",
	"faultplugin": "plugin.faultplugin.analysed",
	"acoustic":    "plugin.acoustic.audio_chunks",
	"talker":      "plugin.talker.audio_chunks",
	"listener":    "plugin.listener.messages",
}

// TestLosslessPluginKills kills each of visual, faultplugin, acoustic,
// talker and listener with SIGKILL three times in a lossless run, each kill once the
// plugin has processed 15 more items since its last one (or the stream waits
// at the gate), then compares every count with a run without kills.
func TestLosslessPluginKills(t *testing.T) {
	clean := func() losslessCounts {
		dir := t.TempDir()
		gate := filepath.Join(dir, "gate")
		if err := os.WriteFile(gate, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		h := startHost(t, losslessConfig(t, dir, gate), "--lease-timeout", "5m")
		h.waitStreams(t)
		c := collectLossless(t, h)
		h.stop(t)
		return c
	}()
	checkExactlyOnce(t, "clean run", clean)

	dir := t.TempDir()
	gate := filepath.Join(dir, "gate")
	h := startHost(t, losslessConfig(t, dir, gate), "--lease-timeout", "5m")
	targets := []string{"acoustic", "visual", "faultplugin", "talker", "listener"}
	const kills, more = 3, 15
	at := map[string]int64{}   // counter value at the last kill
	dead := map[string]int{}   // the pid last killed
	during := map[string]int{} // kills made before the stream reached the gate
	deadline := time.Now().Add(3 * time.Minute)
	for round := range kills {
		for _, name := range targets {
			testenv.Eventually(t, time.Until(deadline), fmt.Sprintf("round %d: %s killed", round, name), func() bool {
				var hh model.HostHealth
				h.get(t, "/api/v1/health", &hh)
				st := health(hh, "lossless")
				if st.Health == model.HealthEnded || st.Health == model.HealthError {
					t.Fatalf("round %d: the stream is %s before %s was killed", round, st.Health, name)
				}
				n := st.Counters[losslessCounter[name]]
				_, err := os.Stat(gate + ".reached")
				atGate := err == nil
				pid := losslessPID(h, name)
				if pid == 0 || pid == dead[name] || (n < at[name]+more && !atGate) {
					return false
				}
				if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
					t.Fatalf("kill %s (%d): %v", name, pid, err)
				}
				at[name], dead[name] = n, pid
				if !atGate {
					during[name]++
				}
				t.Logf("round %d: killed %s (pid %d) at %s = %d", round, name, pid, losslessCounter[name], n)
				return true
			})
		}
	}
	// Every killed plugin is back on the stream before it may end.
	h.waitHostHealth(t, fmt.Sprintf("every plugin restarted %d times", kills), func(hh model.HostHealth) bool {
		for _, name := range targets {
			if health(hh, "lossless").Counters["plugin."+name+".restarts"] != kills {
				return false
			}
		}
		return true
	})
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	hh := h.waitStreams(t)
	killed := collectLossless(t, h)
	h.stop(t)
	t.Logf("kills made while the stream flowed (not at the gate): %v", during)
	checkExactlyOnce(t, "3 kills each", killed)

	k := health(hh, "lossless").Counters
	t.Logf("handed again: frames %d (visual) %d (faultplugin), audio records %d (acoustic) %d (talker), acoustic items dropped as duplicates %d, "+
		"finals redelivered %d (listener), republished finals dropped %d (talker)", k["plugin.visual.frames_resent"], k["plugin.faultplugin.frames_resent"], k["plugin.acoustic.audio_resent"],
		k["plugin.talker.audio_resent"], k["plugin.acoustic.audio_duplicates"], k["plugin.listener.redelivered"], k["plugin.talker.republished_dropped"])
	for _, name := range targets {
		if k["plugin."+name+".restarts"] != kills || k["plugin."+name+".lost"] != 0 || k["plugin."+name+".errors"] != 0 {
			t.Errorf("%s: restarts %d (want %d), lost %d, errors %d", name, k["plugin."+name+".restarts"], kills,
				k["plugin."+name+".lost"], k["plugin."+name+".errors"])
		}
	}
	if k["plugin.acoustic.audio_dropped"] != 0 || k["plugin.talker.audio_dropped"] != 0 || k["plugin.listener.text_dropped"] != 0 {
		t.Errorf("dropped: %v", k)
	}
	// The same counts as the clean run, segment for segment in sum.
	sum := func(c losslessCounts) string {
		return fmt.Sprintf("segments %d frames %d visual %d faultplugin %d hops %d audio %v s finals %d answered %d",
			c.segments, c.framesSeen, c.analysed["visual"], c.analysed["faultplugin"], len(c.hops), c.audioSeconds, len(c.finals), len(c.answered))
	}
	t.Logf("clean:   %s", sum(clean))
	t.Logf("3 kills: %s", sum(killed))
	if sum(clean) != sum(killed) {
		t.Errorf("counts differ from the clean run")
	}
}

// A live stream keeps its behaviour: a plugin that dies loses what it held,
// and its segments say so (plugin_lost, plugin_restarted); nothing waits.
func TestLivePluginCrashRecorded(t *testing.T) {
	dir := t.TempDir()
	h := startHost(t, writeConfig(t, dir, fmt.Sprintf(`segment { duration = "1s" }
store { sqlite = %q }
api { listen = "127.0.0.1:0" }
stream "live" {
  source = "test://ball?width=160&height=120&fps=30"
  plugin "visual" {}
  plugin "faultplugin" {
    crash_every = "8"
  }
}
`, filepath.Join(dir, "lsie.db"))))
	var sl segmentList
	testenv.Eventually(t, time.Minute, "a segment recording the crash", func() bool {
		sl = segmentList{}
		h.get(t, "/api/v1/streams/live/segments", &sl)
		r := reasons(sl.Segments)
		return slices.Contains(r, "plugin_lost") && slices.Contains(r, "plugin_restarted")
	})
	lost := 0
	for _, s := range sl.Segments {
		lost += s.Plugins["faultplugin"].Errors
	}
	if lost == 0 {
		t.Errorf("segments say plugin_lost but count no error: %+v", sl.Segments)
	}
	var hh model.HostHealth
	h.get(t, "/api/v1/health", &hh)
	if k := health(hh, "live").Counters; k["plugin.faultplugin.lost"] == 0 || k["plugin.faultplugin.frames_resent"] != 0 {
		t.Errorf("live counters %v: want frames lost, none handed again", k)
	}
	h.stop(t)
}
