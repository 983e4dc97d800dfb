package main

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/store/sqlite"
)

// storedSegments opens a host's SQLite database once it has exited and
// returns every segment of stream with its items.
func storedSegments(t *testing.T, db, stream string) []model.Segment {
	t.Helper()
	st, err := sqlite.Open(db, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	list, err := st.Segments(ctx, stream, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]model.Segment, 0, len(list))
	for _, s := range list {
		full, err := st.Segment(ctx, stream, s.Index, s.RunID)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, *full)
	}
	return out
}

// A lossless stream waits for a plugin that falls behind max_close_delay:
// slowplugin takes 2 s on two frames with max_close_delay = 1s, and still
// every result is stored in its segment, none plugin_lag, none late, and
// --exit-when-done exits 0 with nothing to report.
func TestLosslessSlowPluginStoresEverything(t *testing.T) {
	dir := t.TempDir()
	c := clip(t, dir, "clip", "pattern=white")
	db := filepath.Join(dir, "lsie.db")
	cfg := writeConfig(t, dir, fmt.Sprintf(`segment {
  duration        = "1s"
  max_close_delay = "1s"
}
store { sqlite = %q }
api { listen = "" }
stream "clip" {
  source   = "file://%s"
  realtime = false
  plugin "visual" {}
  plugin "slowplugin" {
    slow_seqs = "3,8"
    slow_ms   = "2000"
  }
}
`, db, c))
	out, code := runHost(t, "--plugins", pluginDir(), "--config", cfg, "--exit-when-done", "--quiet")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if summaryRE.MatchString(out) {
		t.Errorf("a clean lossless run reported something:\n%s", out)
	}
	segs := storedSegments(t, db, "clip")
	if len(segs) != 3 {
		t.Fatalf("%d segments, want 3", len(segs))
	}
	for _, seg := range segs {
		if slices.Contains(seg.Reasons, model.ReasonPluginLag) || seg.Status != model.SegmentComplete {
			t.Errorf("segment %d: %s %v", seg.Index, seg.Status, seg.Reasons)
		}
		for _, name := range []string{"visual", "slowplugin"} {
			p := seg.Plugins[name]
			if p.FramesAnalysed != 5 || len(p.Items) != 5 || p.LateItems != 0 || p.Errors != 0 {
				t.Errorf("segment %d %s: analysed %d, %d items, %d late, %d errors", seg.Index, name,
					p.FramesAnalysed, len(p.Items), p.LateItems, p.Errors)
			}
		}
		for _, it := range seg.Plugins["slowplugin"].Items {
			if it.Late || it.PTS < seg.MediaStart || it.PTS >= seg.MediaEnd {
				t.Errorf("segment %d: item at %s (late %t)", seg.Index, it.PTS, it.Late)
			}
		}
	}
}

// liveClip writes a 6 s, 30 fps H.264 MP4, long enough for a result held
// 3 s to come back while the stream still runs.
func liveClip(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "live.mp4")
	gst(t, "videotestsrc", "num-buffers=180", "pattern=ball", "!", "video/x-raw,width=320,height=240,framerate=30/1",
		"!", "x264enc", "speed-preset=ultrafast", "!", "mp4mux", "!", "filesink", "location="+p)
	return p
}

var (
	summaryRE  = regexp.MustCompile(`(?m)^lsie: (data lost|nothing lost): (.*)$`)
	attachedRE = regexp.MustCompile(`stream "live": .*?(\d+) late results \(attached late\)`)
)

// In a live stream a plugin that falls behind max_close_delay has its
// segment closed as plugin_lag, and the results it owed come late: they are
// attached to their closed segment, marked late and counted there, and
// reported at exit. Late results alone are no loss (exit 0); a plugin
// crash is (plugin_lost: exit 3, the loss code), with one summary line.
func TestLiveLateResultsAttached(t *testing.T) {
	dir := t.TempDir()
	c := liveClip(t, dir)
	run := func(t *testing.T, extra string) (db, out string, code int) {
		db = filepath.Join(t.TempDir(), "lsie.db")
		cfg := writeConfig(t, t.TempDir(), fmt.Sprintf(`segment {
  duration        = "1s"
  max_close_delay = "1s"
}
store { sqlite = %q }
api { listen = "" }
stream "live" {
  source   = "file://%s"
  realtime = true
  plugin "slowplugin" {
    slow_seqs = "3"
    slow_ms   = "3000"
  }
%s}
`, db, c, extra))
		out, code = runHost(t, "--plugins", pluginDir(), "--config", cfg, "--exit-when-done", "--quiet")
		return db, out, code
	}
	check := func(t *testing.T, db, out string) {
		t.Helper()
		m := attachedRE.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no late results reported:\n%s", out)
		}
		t.Log(summaryRE.FindString(out))
		reported, _ := strconv.Atoi(m[1])
		stored, lagged := 0, false
		for _, seg := range storedSegments(t, db, "live") {
			p := seg.Plugins["slowplugin"]
			late := 0
			for _, it := range p.Items {
				if !it.Late {
					continue
				}
				late++
				if it.PTS < seg.MediaStart || it.PTS >= seg.MediaEnd || it.Fields["seq"] < 3 {
					t.Errorf("segment %d [%s, %s): late item at %s %v", seg.Index, seg.MediaStart, seg.MediaEnd, it.PTS, it.Fields)
				}
			}
			if late != p.LateItems {
				t.Errorf("segment %d: %d items marked late, late_items %d", seg.Index, late, p.LateItems)
			}
			stored += late
			if late > 0 && slices.Contains(seg.Reasons, model.ReasonPluginLag) {
				lagged = true
			}
		}
		if stored == 0 || stored != reported || !lagged {
			t.Fatalf("%d late items stored, %d reported, a plugin_lag segment holds some: %t\n%s", stored, reported, lagged, out)
		}
	}

	t.Run("late only", func(t *testing.T) {
		db, out, code := run(t, "")
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		if m := summaryRE.FindStringSubmatch(out); m == nil || m[1] != "nothing lost" {
			t.Fatalf("summary %q:\n%s", m, out)
		}
		check(t, db, out)
	})
	t.Run("late and a crash", func(t *testing.T) {
		db, out, code := run(t, `  plugin "faultplugin" { crash_every = "10" }
`)
		if code != 3 {
			t.Fatalf("exit %d, want 3 (data lost):\n%s", code, out)
		}
		m := summaryRE.FindAllStringSubmatch(out, -1)
		if len(m) != 1 || m[0][1] != "data lost" || !strings.Contains(m[0][2], "(plugin_lost)") {
			t.Fatalf("summary lines %q:\n%s", m, out)
		}
		check(t, db, out)
	})
}
