package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host"
	"github.com/lsie-mlf/lsie/host/model"
)

// The live table's columns come from the plugins' manifests: the first
// declared fields of each, templated names and timings left out; a plugin
// the host does not know shows its aggregates' names.
func TestSegmentTableColumnsFromManifests(t *testing.T) {
	var buf bytes.Buffer
	tbl := newSegmentTable(&buf, false)
	tbl.fields = func(name string) []host.FieldInfo {
		switch name {
		case "edges":
			return []host.FieldInfo{{Name: "faceN.x", Unit: "1"}, {Name: "edge_ms", Unit: "ms"}, {Name: "edge_density", Unit: "0..1"}, {Name: "edge_count", Unit: "count"}, {Name: "third", Unit: "1"}}
		case "brightness":
			return []host.FieldInfo{{Name: "centre_luma", Unit: "luma"}}
		}
		return nil
	}
	agg := func(mean float64) model.Aggregate { return model.Aggregate{N: 3, Mean: mean} }
	seg := model.Segment{StreamID: "cam", Index: 4, MediaStart: 8 * time.Second, MediaEnd: 10 * time.Second, Status: model.SegmentComplete,
		Plugins: map[string]model.PluginSegment{
			"edges":      {FramesAnalysed: 20, Aggregates: map[string]model.Aggregate{"edge_density": agg(0.125), "third": agg(9)}},
			"brightness": {FramesAnalysed: 20, Aggregates: map[string]model.Aggregate{"centre_luma": agg(201.5)}},
			"other":      {Status: model.PluginNoAudio, Aggregates: map[string]model.Aggregate{"b": agg(2), "a": agg(1), "c": agg(3)}},
		}}
	tbl.print(seg)
	tbl.print(seg)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("want a header and two rows:\n%s", buf.String())
	}
	hdr := strings.Fields(lines[0])
	want := []string{"STREAM", "SEGMENT", "MEDIA", "FRAMES", "centre_luma", "edge_density", "edge_count", "a", "b", "STATUS"}
	if strings.Join(hdr, " ") != strings.Join(want, " ") {
		t.Fatalf("header %q, want %q", hdr, want)
	}
	row := strings.Fields(lines[1])
	if got := strings.Join(row[4:8], " "); got != "201.5 0.125 – 1" {
		t.Errorf("values %q", got)
	}
	if !strings.Contains(lines[1], "complete; other no audio") {
		t.Errorf("status %q", lines[1])
	}
	// A stream with fewer plugins shares the header ("–" for the rest);
	// one with a new plugin adds its columns under a new header.
	tbl.print(model.Segment{StreamID: "x", Plugins: map[string]model.PluginSegment{"brightness": {Aggregates: map[string]model.Aggregate{"centre_luma": agg(3)}}}})
	lines = strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 4 || strings.Join(strings.Fields(lines[3])[4:9], " ") != "3 – – – –" {
		t.Fatalf("a stream with fewer plugins:\n%s", buf.String())
	}
	tbl.print(model.Segment{StreamID: "y", Plugins: map[string]model.PluginSegment{"alpha": {Aggregates: map[string]model.Aggregate{"z": agg(5)}}}})
	lines = strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 6 || !strings.HasPrefix(lines[4], "STREAM") || strings.Fields(lines[4])[4] != "z" || strings.Fields(lines[5])[4] != "5" {
		t.Fatalf("no new header for new columns:\n%s", buf.String())
	}
}
