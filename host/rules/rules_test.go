package rules

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/config"
	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/motion"
)

var schema = Schema{
	Plugins: map[string]Plugin{
		"detect":        {Fields: []string{"count_person", "count_cup"}, Labels: []string{"person", "cup"}},
		"visual":        {Fields: []string{"brightness", "motion"}},
		"transcription": {Fields: []string{"confidence"}, Outputs: []string{"transcript.final@1", "transcript.partial@1"}},
	},
	Zones: []string{"door"},
}

func rule(name, when string) config.Rule {
	return config.Rule{Name: name, When: when, Severity: "warning", Message: name, WhenPos: config.Pos{File: "r.hcl", Line: 4, Column: 13}}
}

func TestCompileErrors(t *testing.T) {
	for _, c := range []struct{ when, want string }{
		{`detect.count_persn >= 3`, `r.hcl:4:20: rule "x": when: undeclared field "detect.count_persn" (did you mean count_person?)`},
		{`detectt.count_person >= 3`, `r.hcl:4:13: rule "x": when: undeclared reference to 'detectt' (did you mean 'detect'?)`},
		{`objects.count('persn') > 1`, `r.hcl:4:27: rule "x": when: no plugin on the rule's streams reports objects labelled "persn" (did you mean person?)`},
		{`objects.count('person', 'dor') > 1`, `r.hcl:4:37: rule "x": when: no zone "dor" on the rule's streams (did you mean door?)`},
		{`segment.visual.motion.avg > 5`, `r.hcl:4:35: rule "x": when: no statistic "avg" (one of n, mean, std, min, max, p10, p50, p90)`},
		{`segment.visual.motio.mean > 5`, `r.hcl:4:28: rule "x": when: undeclared field "visual.motio" (did you mean motion?)`},
		{`detect.count_person + 1.0`, `r.hcl:4:13: rule "x": when: must be a condition (bool), is double`},
		{`segment.visual.motion.mean > 5 && visual.motion > 1`, `r.hcl:4:13: rule "x": when: reads both segment aggregates and live results: a rule is evaluated either when a segment closes or on every result`},
		{`detect.count_person >=`, `r.hcl:4:35: rule "x": when: Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}`},
	} {
		_, err := Compile(rule("x", c.when), schema)
		if err == nil || err.Error() != c.want {
			t.Errorf("%s:\n got %v\nwant %s", c.when, err, c.want)
		}
	}
	for _, ok := range []string{
		`detect.count_person >= 3`, `objects.count('person', 'door') >= 3`, `transcript.text.contains('help')`,
		`segment.visual.motion.mean > 5`, `visual.brightness < 20.0 || detect.count_cup > 0`,
	} {
		if _, err := Compile(rule("x", ok), schema); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}

type recorder struct{ alerts []Alert }

func (r *recorder) emit(a Alert) { r.alerts = append(r.alerts, a) }

func newStream(t *testing.T, rs ...config.Rule) (*Stream, *recorder, *[]string) {
	t.Helper()
	var compiled []*Rule
	for _, r := range rs {
		c, err := Compile(r, schema)
		if err != nil {
			t.Fatal(err)
		}
		compiled = append(compiled, c)
	}
	rec := &recorder{}
	var errs []string
	anchor := time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC)
	s := NewStream(StreamConfig{ID: "cam1", Anchor: func() time.Time { return anchor },
		Zones: []motion.Zone{{Name: "door", Polygon: [][2]float64{{0, 0}, {0.5, 0}, {0.5, 1}, {0, 1}}}},
		Emit:  rec.emit, OnError: func(rule string, err error) { errs = append(errs, rule+": "+err.Error()) }}, compiled)
	return s, rec, &errs
}

func persons(n int, x float64) []model.Object {
	var out []model.Object
	for i := range n {
		out = append(out, model.Object{Label: "person", X: x, Y: 0.2, W: 0.1, H: 0.3, Score: 0.9, TrackID: int64(i + 1)})
	}
	return out
}

// The life of an alert: for, start at the first frame that held, end at the
// first that did not, cooldown, values and tracks recorded.
func TestAlertLifecycle(t *testing.T) {
	r := rule("crowd_at_door", `objects.count('person', 'door') >= 3`)
	r.For, r.Cooldown = time.Second, 5*time.Second
	s, rec, errs := newStream(t, r)
	frame := func(ms int, n int, x float64) {
		s.Result("detect", model.Item{PTS: time.Duration(ms) * time.Millisecond, Fields: map[string]float64{"count_person": float64(n)},
			Objects: persons(n, x)})
	}
	frame(0, 1, 0.1)
	frame(200, 3, 0.7) // three, outside the door
	frame(400, 3, 0.1) // holds from here
	frame(600, 3, 0.1)
	frame(1200, 3, 0.1) // not yet 1 s
	if len(rec.alerts) != 0 {
		t.Fatalf("fired before `for`: %+v", rec.alerts)
	}
	frame(1400, 4, 0.1) // 1 s since 400 ms: fires, starting at 400 ms
	if len(rec.alerts) != 1 {
		t.Fatalf("alerts %+v", rec.alerts)
	}
	a := rec.alerts[0]
	if a.Start != 400*time.Millisecond || a.Fired != 1400*time.Millisecond || a.End != nil || a.Severity != "warning" ||
		a.WallStart != time.Date(2026, 12, 8, 10, 0, 0, 400e6, time.UTC) || len(a.TrackIDs) != 4 ||
		a.Values["objects.count('person')"] != 4 {
		t.Errorf("opened: %+v", a)
	}
	frame(1600, 5, 0.1) // still open: nothing new
	frame(1800, 2, 0.1) // ends
	if len(rec.alerts) != 2 || rec.alerts[1].End == nil || *rec.alerts[1].End != 1800*time.Millisecond || rec.alerts[1].WallEnd == nil {
		t.Fatalf("ended: %+v", rec.alerts)
	}
	// Cooldown: 5 s of quiet after the end, even though it holds again.
	for ms := 2000; ms <= 6600; ms += 200 {
		frame(ms, 3, 0.1)
	}
	if len(rec.alerts) != 2 {
		t.Fatalf("fired in the cooldown: %+v", rec.alerts[2:])
	}
	frame(6800, 3, 0.1) // quiet over; holds from 6.8 s
	frame(7800, 3, 0.1)
	if len(rec.alerts) != 3 || rec.alerts[2].Start != 6800*time.Millisecond {
		t.Fatalf("after the cooldown: %+v", rec.alerts[2:])
	}
	s.Close(8 * time.Second)
	if len(rec.alerts) != 4 || *rec.alerts[3].End != 8*time.Second || rec.alerts[3].ID != rec.alerts[2].ID {
		t.Errorf("closed with the stream: %+v", rec.alerts[3:])
	}
	if len(*errs) != 0 {
		t.Errorf("errors %v", *errs)
	}
}

// Topics, segment rules, missing values and run-time errors.
func TestRuleInputs(t *testing.T) {
	help := rule("help", `transcript.text.contains('help')`)
	dark := rule("dark", `segment.visual.brightness.mean < 20`)
	ratio := rule("ratio", `int(detect.count_cup) / int(detect.count_person) > 1`)
	s, rec, errs := newStream(t, help, dark, ratio)
	// No transcript yet: false, and no error reported.
	s.Result("visual", model.Item{PTS: 0, Fields: map[string]float64{"brightness": 10}})
	s.Result("transcription", model.Item{PTS: time.Second, Topic: "transcript.partial@1", Text: "help"}) // partials are not read
	if len(rec.alerts) != 0 || len(*errs) != 0 {
		t.Fatalf("alerts %+v, errors %v", rec.alerts, *errs)
	}
	s.Result("transcription", model.Item{PTS: 2 * time.Second, Topic: "transcript.final@1", Text: "please help me"})
	if len(rec.alerts) != 1 || rec.alerts[0].Rule != "help" || rec.alerts[0].Values["transcript.text"] != "please help me" {
		t.Fatalf("help: %+v", rec.alerts)
	}
	// The segment rule reads aggregates at segment close, not live values.
	s.Segment(model.Segment{MediaStart: 0, MediaEnd: 2 * time.Second, Plugins: map[string]model.PluginSegment{
		"visual": {Aggregates: map[string]model.Aggregate{"brightness": {N: 10, Mean: 12}}}}})
	if len(rec.alerts) != 2 || rec.alerts[1].Rule != "dark" || rec.alerts[1].Start != 0 || rec.alerts[1].Fired != 2*time.Second {
		t.Fatalf("dark: %+v", rec.alerts)
	}
	// Integer division by zero: a run-time error, reported, the rule false.
	s.Result("detect", model.Item{PTS: 3 * time.Second, Fields: map[string]float64{"count_cup": 2, "count_person": 0}})
	if len(*errs) == 0 || !strings.HasPrefix((*errs)[0], "ratio: ") || len(rec.alerts) != 2 {
		t.Errorf("division by zero: errors %v, alerts %+v", *errs, rec.alerts)
	}
}

func TestMatches(t *testing.T) {
	r := &Rule{Config: config.Rule{Streams: []string{"cam*", "lobby"}}}
	for id, want := range map[string]bool{"cam1": true, "lobby": true, "lobby2": false, "x": false} {
		if r.Matches(id) != want {
			t.Errorf("Matches(%q) = %v", id, !want)
		}
	}
	var ds config.Diagnostics
	if _, err := Compile(rule("x", `nope`), schema); !errors.As(err, &ds) {
		t.Errorf("%T, want config.Diagnostics", err)
	}
}

// BenchmarkResult50Rules: one detector result evaluated by 50 live rules
// (objects counts in a zone, field comparisons, a transcript test), the
// cost the result path pays per result.
func BenchmarkResult50Rules(b *testing.B) {
	var rs []*Rule
	for i := range 50 {
		var when string
		switch i % 3 {
		case 0:
			when = fmt.Sprintf("objects.count('person', 'door') >= %d", 3+i)
		case 1:
			when = fmt.Sprintf("detect.count_person > %d.0 && visual.motion > 2.5", i)
		default:
			when = fmt.Sprintf("transcript.text.contains('word%d')", i)
		}
		r, err := Compile(rule(fmt.Sprintf("r%d", i), when), schema)
		if err != nil {
			b.Fatal(err)
		}
		rs = append(rs, r)
	}
	s := NewStream(StreamConfig{ID: "cam1", Zones: []motion.Zone{{Name: "door", Polygon: [][2]float64{{0, 0}, {0.5, 0}, {0.5, 1}, {0, 1}}}},
		Emit: func(Alert) {}}, rs)
	s.Result("visual", model.Item{Fields: map[string]float64{"motion": 1}})
	s.Result("transcription", model.Item{Topic: "transcript.final@1", Text: "hello there"})
	it := model.Item{Fields: map[string]float64{"count_person": 2}, Objects: persons(2, 0.1)}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		it.PTS = time.Duration(i) * time.Millisecond
		s.Result("detect", it)
	}
}

// A reload keeps an unchanged rule's open alert and ends a removed one's.
func TestSetRules(t *testing.T) {
	keep, drop := rule("keep", `detect.count_person >= 1.0`), rule("drop", `detect.count_person >= 2.0`)
	s, rec, _ := newStream(t, keep, drop)
	s.Result("detect", model.Item{PTS: time.Second, Fields: map[string]float64{"count_person": 3}})
	if len(rec.alerts) != 2 {
		t.Fatalf("alerts %+v", rec.alerts)
	}
	moved := keep
	moved.WhenPos.Line = 40 // the same rule, written elsewhere
	k2, err := Compile(moved, schema)
	if err != nil {
		t.Fatal(err)
	}
	s.Result("detect", model.Item{PTS: 2 * time.Second, Fields: map[string]float64{"count_person": 3}})
	s.SetRules([]*Rule{k2})
	if len(rec.alerts) != 3 || rec.alerts[2].Rule != "drop" || rec.alerts[2].End == nil || *rec.alerts[2].End != 2*time.Second {
		t.Fatalf("after the reload: %+v", rec.alerts)
	}
	s.Result("detect", model.Item{PTS: 3 * time.Second, Fields: map[string]float64{"count_person": 0}})
	if len(rec.alerts) != 4 || rec.alerts[3].ID != rec.alerts[0].ID || *rec.alerts[3].End != 3*time.Second {
		t.Fatalf("the kept rule's alert: %+v", rec.alerts)
	}
}

// A result that arrives after later ones (a transcript final behind the
// frames) starts its alert at its own time; an older result never ends an
// alert before it began.
func TestOutOfOrderResults(t *testing.T) {
	s, rec, _ := newStream(t, rule("help", `transcript.text.contains('help')`))
	s.Result("visual", model.Item{PTS: 8 * time.Second, Fields: map[string]float64{"motion": 1}})
	s.Result("transcription", model.Item{PTS: 5 * time.Second, Topic: "transcript.final@1", Text: "help"})
	if len(rec.alerts) != 1 || rec.alerts[0].Start != 5*time.Second || rec.alerts[0].Fired != 8*time.Second {
		t.Fatalf("alerts %+v", rec.alerts)
	}
	s.Result("transcription", model.Item{PTS: 4 * time.Second, Topic: "transcript.final@1", Text: "fine"})
	if len(rec.alerts) != 2 || *rec.alerts[1].End != 5*time.Second {
		t.Fatalf("ended: %+v", rec.alerts)
	}
}
