package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
)

// graphConfig runs one lossless test stream with audio through talker
// (producer of transcript topics) and listener (their consumer).
func graphConfig(t *testing.T, dir string, seconds, utterMS int, listenerAttrs string, talkerAttrs ...string) string {
	t.Helper()
	return writeConfig(t, dir, fmt.Sprintf(`segment {
  duration = "1s"
  max_close_delay = "3s"
}
store { sqlite = %q }
api { listen = "127.0.0.1:0" }
stream "talk" {
  source = "test://ball?width=160&height=120&fps=10&duration=%ds&audio=330"
  realtime = false
  plugin "listener" {
    %s
  }
  plugin "talker" {
    utter_ms = %d
    %s
  }
}
`, filepath.Join(dir, "lsie.db"), seconds, listenerAttrs, utterMS, strings.Join(talkerAttrs, "\n    ")))
}

// graphRun is what one run of the talk stream stored, per segment.
type graphRun struct {
	segs []model.Segment
	// published and answered are the utterance numbers talker published as
	// finals and listener answered, in store order.
	published, answered []int
	// partials are the talker's stored partials (utterances that never got
	// a final), by segment index.
	partials map[int64][]model.Item
}

func collectGraph(t *testing.T, h *runningHost, wantSegs int) graphRun {
	t.Helper()
	var sl segmentList
	h.get(t, "/api/v1/streams/talk/segments", &sl)
	if len(sl.Segments) != wantSegs {
		t.Fatalf("%d segments, want %d", len(sl.Segments), wantSegs)
	}
	run := graphRun{partials: map[int64][]model.Item{}}
	for i := range sl.Segments {
		var seg model.Segment
		h.get(t, fmt.Sprintf("/api/v1/segments/talk/%d", i), &seg)
		run.segs = append(run.segs, seg)
		var pub, ans []int
		for _, it := range seg.Plugins["talker"].Items {
			if it.Topic == "transcript.partial@1" {
				run.partials[seg.Index] = append(run.partials[seg.Index], it)
				continue
			}
			if it.Topic != "transcript.final@1" {
				t.Errorf("talk/%d: talker item on topic %q", i, it.Topic)
				continue
			}
			n := int(it.Fields["utt"])
			var p struct {
				Words []struct{ W string } `json:"words"`
			}
			if err := json.Unmarshal(it.Payload, &p); err != nil || len(p.Words) != 2 || it.Text != fmt.Sprintf("utt %d", n) {
				t.Errorf("talk/%d: stored final %q payload %s (%v)", i, it.Text, it.Payload, err)
			}
			pub = append(pub, n)
		}
		for _, it := range seg.Plugins["listener"].Items {
			if it.Error != "" {
				t.Errorf("talk/%d: listener error %s", i, it.Error)
			}
			if it.Fields["partial"] == 1 {
				continue
			}
			if it.PTS < seg.MediaStart || it.PTS >= seg.MediaEnd {
				t.Errorf("talk/%d: listener result at %v outside the segment", i, it.PTS)
			}
			if it.Fields["words"] != 2 {
				t.Errorf("talk/%d: listener saw %v words", i, it.Fields["words"])
			}
			// The answer's text and payload are stored with its fields.
			if it.Text != fmt.Sprintf("heard utt %d", int(it.Fields["utt"])) || string(it.Payload) != `{"words":2}` {
				t.Errorf("talk/%d: listener answer text %q payload %s", i, it.Text, it.Payload)
			}
			ans = append(ans, int(it.Fields["utt"]))
		}
		if got := seg.Plugins["listener"].Messages; got < len(ans) {
			t.Errorf("talk/%d: listener messages %d < %d final results", i, got, len(ans))
		}
		run.published = append(run.published, pub...)
		run.answered = append(run.answered, ans...)
	}
	return run
}

// utterances are the utterance numbers a stream of d seconds cut into
// ms-long pieces publishes: every piece, the last one cut short by the end.
func utterances(seconds, ms int) []int {
	var out []int
	for n := 0; n*ms < seconds*1000; n++ {
		out = append(out, n)
	}
	return out
}

func TestPluginGraphDeliversEveryFinal(t *testing.T) {
	dir := t.TempDir()
	h := startHost(t, graphConfig(t, dir, 4, 300, ""))
	// Streams added through the API are wired (and refused) the same way.
	add := func(plugins ...string) int {
		var ps []map[string]any
		for _, p := range plugins {
			ps = append(ps, map[string]any{"name": p})
		}
		body, _ := json.Marshal(map[string]any{"id": "api-" + strings.Join(plugins, "-"), "realtime": false,
			"source": "test://smpte?width=160&height=120&fps=10&duration=1s&audio=220", "plugins": ps})
		return h.do(t, "POST", "/api/v1/streams", "", body)
	}
	if code := add("listener"); code != http.StatusBadRequest {
		t.Errorf("POST a stream whose listener has no producer: %d, want 400", code)
	}
	if code := add("talker", "listener"); code != http.StatusCreated {
		t.Errorf("POST a wired stream: %d, want 201", code)
	}
	hh := h.waitStreams(t)
	run := collectGraph(t, h, 4)
	want := utterances(4, 300)
	if !slices.Equal(run.published, want) {
		t.Errorf("talker published finals %v, want %v", run.published, want)
	}
	if !slices.Equal(run.answered, want) {
		t.Errorf("listener answered %v, want every final once, in order: %v", run.answered, want)
	}
	if len(run.partials) != 0 {
		t.Errorf("partials stored %v: every utterance had its final", run.partials)
	}
	for _, seg := range run.segs {
		if seg.Status != model.SegmentComplete || seg.Plugins["listener"].TextDropped != 0 {
			t.Errorf("talk/%d: %s %v, text dropped %d", seg.Index, seg.Status, seg.Reasons, seg.Plugins["listener"].TextDropped)
		}
	}
	k := health(hh, "talk").Counters
	if k["plugin.listener.text_dropped"] != 0 || k["plugin.listener.messages_queued"] != 0 ||
		k["plugin.talker.published"] < int64(len(want)) || k["plugin.listener.messages"] < int64(len(want)) {
		t.Errorf("counters: %v", k)
	}
	// Every partial is either answered or coalesced into a later one.
	partials := k["plugin.talker.published"] - int64(len(want))
	if got := k["plugin.listener.messages"] - int64(len(want)) + k["plugin.listener.partials_coalesced"]; got != partials {
		t.Errorf("partials: %d published, %d answered + coalesced", partials, got)
	}
	h.stop(t)
}

// Partials are not all stored, but the latest partial of an utterance that
// never got a final is, on its partial topic, in the segment whose window
// holds its media time: utterance 3 (0.9–1.2 s) in segment 0, utterance 6
// (cut short by the end of the stream) in segment 1.
func TestPluginGraphStoresUnfinishedPartials(t *testing.T) {
	dir := t.TempDir()
	h := startHost(t, graphConfig(t, dir, 2, 300, "", `no_final = "3,6"`))
	h.waitStreams(t)
	run := collectGraph(t, h, 2)
	want := []int{0, 1, 2, 4, 5}
	if !slices.Equal(run.published, want) || !slices.Equal(run.answered, want) {
		t.Errorf("finals published %v, answered %v; want %v", run.published, run.answered, want)
	}
	for idx, utt := range map[int64]int{0: 3, 1: 6} {
		ps := run.partials[idx]
		if len(ps) != 1 {
			t.Errorf("talk/%d: stored partials %+v, want utterance %d's last", idx, ps, utt)
			continue
		}
		p, seg := ps[0], run.segs[idx]
		if p.PTS != time.Duration(utt)*300*time.Millisecond || p.PTS < seg.MediaStart || p.PTS >= seg.MediaEnd ||
			!strings.HasPrefix(p.Text, fmt.Sprintf("utt %d part ", utt)) {
			t.Errorf("talk/%d: stored partial %+v for utterance %d", idx, p, utt)
		}
		// The last one: the utterance's partials grow by a 100 ms chunk.
		if utt == 3 && p.Duration < 200*time.Millisecond {
			t.Errorf("talk/%d: stored partial covers %v: not the latest", idx, p.Duration)
		}
	}
	if len(run.partials) != 2 {
		t.Errorf("partials stored in segments %v", run.partials)
	}
	h.stop(t)
}

// A consumer that crashes with finals in flight gets them again after its
// restart: every utterance answered exactly once, none dropped. The stream
// is lossless, so nothing was lost and its segments are complete.
func TestPluginGraphRedeliversAfterConsumerRestart(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "crashed")
	h := startHost(t, graphConfig(t, dir, 4, 300, fmt.Sprintf("crash_at = 5\n    slow_ms = 20\n    crash_marker = %q", marker)))
	hh := h.waitStreams(t)
	run := collectGraph(t, h, 4)
	want := utterances(4, 300)
	if !slices.Equal(run.answered, want) {
		t.Errorf("listener answered %v, want %v", run.answered, want)
	}
	k := health(hh, "talk").Counters
	if k["plugin.listener.restarts"] != 1 || k["plugin.listener.redelivered"] < 1 || k["plugin.listener.text_dropped"] != 0 {
		t.Errorf("want 1 restart, ≥ 1 redelivered, 0 dropped: %v", k)
	}
	if r := reasons(run.segs); len(r) > 0 {
		t.Errorf("reasons %v, want every segment complete", r)
	}
	h.stop(t)
}

// A consumer slower than its producer never slows it: past event_bound the
// events are recorded as text_dropped, exactly as many as went missing.
func TestPluginGraphTextDroppedPastTheBound(t *testing.T) {
	dir := t.TempDir()
	h := startHost(t, graphConfig(t, dir, 3, 100, "slow_ms = 100\n    event_bound = 2"))
	hh := h.waitStreams(t)
	run := collectGraph(t, h, 3)
	want := utterances(3, 100)
	if !slices.Equal(run.published, want) {
		t.Fatalf("talker published %v, want %v", run.published, want)
	}
	// What the listener answered is in order, and the rest was recorded.
	i := 0
	for _, n := range run.answered {
		for i < len(want) && want[i] != n {
			i++
		}
		if i == len(want) {
			t.Fatalf("answered %v is not an in-order subsequence of %v", run.answered, want)
		}
	}
	dropped := 0
	for _, seg := range run.segs {
		d := seg.Plugins["listener"].TextDropped
		dropped += d
		if d > 0 != slices.Contains(seg.Reasons, model.ReasonTextDropped) {
			t.Errorf("talk/%d: text dropped %d, reasons %v", seg.Index, d, seg.Reasons)
		}
	}
	k := health(hh, "talk").Counters
	if dropped == 0 || dropped != len(want)-len(run.answered) || int64(dropped) != k["plugin.listener.text_dropped"] {
		t.Errorf("dropped %d in segments, %d in health; %d published, %d answered", dropped, k["plugin.listener.text_dropped"], len(want), len(run.answered))
	}
	h.stop(t)
}

func TestPluginGraphWiringErrors(t *testing.T) {
	cases := []struct {
		name, plugins string
		want          *regexp.Regexp
	}{
		{"missing producer", `plugin "visual" {}
  plugin "listener" {}`, regexp.MustCompile(`lsie\.hcl:5:3: stream "a": plugin "listener": consumes "transcript\.final@1" but no plugin of this stream produces it`)},
		{"cycle", `plugin "loopa" {}
  plugin "loopb" {}`, regexp.MustCompile(`lsie\.hcl:\d+:3: stream "a": plugin "loop[ab]": plugins form a cycle through the topics they consume: loop[ab] → loop[ab] → loop[ab]`)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			// Plugin blocks start on line 4 of this file.
			cfg := writeConfig(t, dir, fmt.Sprintf("store { sqlite = %q }\nstream \"a\" {\n  source = \"test://smpte?duration=1s\"\n  %s\n}\n",
				filepath.Join(dir, "lsie.db"), tc.plugins))
			out, code := runHost(t, "--plugins", pluginDir(), "--config", cfg)
			if code == 0 || !tc.want.MatchString(out) {
				t.Fatalf("exit %d, output:\n%s", code, out)
			}
			// The error is the last thing printed: one positioned line per problem.
			_, errText, _ := strings.Cut(out, "lsie-host: ")
			for _, line := range strings.Split(strings.TrimSpace(errText), "\n") {
				if !regexp.MustCompile(`^\S+lsie\.hcl:\d+:\d+: stream "a": plugin "\w+": `).MatchString(line) {
					t.Errorf("unpositioned error line %q", line)
				}
			}
		})
	}
}
