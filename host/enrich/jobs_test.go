package enrich

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
)

func final(text string, dur time.Duration) model.Item {
	return model.Item{Topic: TopicFinal, Text: text, Duration: dur}
}

// segment holds finals in two plugins, plus items that are not finals.
func segment(index int64, finalsText ...string) model.Segment {
	var items []model.Item
	for _, t := range finalsText {
		items = append(items, final(t, 1500*time.Millisecond))
	}
	return model.Segment{StreamID: "cam", Index: index, MediaStart: 10 * time.Second, MediaEnd: 20 * time.Second,
		Plugins: map[string]model.PluginSegment{
			"transcription": {Items: append(items,
				model.Item{Topic: "transcript.partial@1", Text: "boxes boxes boxes boxes"})},
			"acoustic": {Items: []model.Item{{Fields: map[string]float64{"f0_hz": 120}, Text: "boxes boxes"}}},
		}}
}

func runJob(t *testing.T, j Job, seg model.Segment) string {
	t.Helper()
	out, err := j.Run(context.Background(), seg)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestKeywords(t *testing.T) {
	seg := segment(1, "Cats love boxes, and cats love sleeping.", "Boxes? Yes, BOXES... 42 cats.")
	want := `{"keywords":[{"word":"boxes","count":3},{"word":"cats","count":3},{"word":"love","count":2},{"word":"sleeping","count":1}]}`
	if got := runJob(t, Keywords(), seg); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// Finals in another plugin count too; contractions are stopwords.
	seg.Plugins["other"] = model.PluginSegment{Items: []model.Item{final("I don’t think sleeping's bad", 0)}}
	want = `{"keywords":[{"word":"boxes","count":3},{"word":"cats","count":3},{"word":"love","count":2},{"word":"bad","count":1},{"word":"sleeping","count":1},{"word":"sleeping's","count":1}]}`
	if got := runJob(t, Keywords(), seg); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestKeywordsTopTenAndEmpty(t *testing.T) {
	seg := segment(1, "zeta yotta xenon walrus violet umbra tango sierra romeo quebec papa oscar oscar")
	want := `{"keywords":[{"word":"oscar","count":2},{"word":"papa","count":1},{"word":"quebec","count":1},{"word":"romeo","count":1},{"word":"sierra","count":1},{"word":"tango","count":1},{"word":"umbra","count":1},{"word":"violet","count":1},{"word":"walrus","count":1},{"word":"xenon","count":1}]}`
	if got := runJob(t, Keywords(), seg); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := runJob(t, Keywords(), segment(1)); got != `{"keywords":[]}` {
		t.Errorf("empty: %s", got)
	}
}

func TestLanguage(t *testing.T) {
	cases := []struct {
		name, text, want string
	}{
		// de: das ist ein sehr und wir sind mit der im die = 11; nl: die;
		// pt: das (de + as). 11/13.
		{"german", "Das ist ein sehr schöner Tag und wir sind heute mit der Katze im Garten, die schläft.",
			`{"language":"de","confidence":0.846}`},
		// fr: je que c est une très pour les et nous le faire = 12;
		// es: que les le = 3; it: le; nl: je; pt: que.
		{"french", "Je pense que c'est une très bonne idée pour les enfants et nous allons le faire.",
			`{"language":"fr","confidence":0.667}`},
		// en: we to the and some for the = 7, nothing elsewhere.
		{"english", "We went to the market and bought some fresh bread for the party.",
			`{"language":"en","confidence":1}`},
		{"too short", "Bonjour tout", `{"language":"und","confidence":0}`},
		{"no stopwords", "Xylophon Quark Zebra", `{"language":"und","confidence":0}`},
		// "no" is in es, it and pt alike.
		{"tie", "no no no", `{"language":"und","confidence":0}`},
	}
	for _, c := range cases {
		if got := runJob(t, Language(), segment(1, c.text)); got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, got, c.want)
		}
	}
}

func TestStats(t *testing.T) {
	seg := segment(3, "Hello there, how are you", "Fine thanks")
	seg.Telemetry = []model.TelemetryEvent{
		{Kind: model.TelemetryPhysiology}, {Kind: model.TelemetryStimulus}, {Kind: model.TelemetryPhysiology},
	}
	want := `{"utterances":2,"words":7,"speech_seconds":3,"words_per_minute":140,"telemetry":{"physiology":2,"stimulus":1},"segment_seconds":10}`
	if got := runJob(t, Stats(), seg); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	want = `{"utterances":0,"words":0,"speech_seconds":0,"words_per_minute":null,"telemetry":{},"segment_seconds":10}`
	if got := runJob(t, Stats(), segment(3)); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestDefaultJobs(t *testing.T) {
	var kinds []string
	for _, j := range DefaultJobs() {
		kinds = append(kinds, j.Kind)
		var v any
		if err := json.Unmarshal([]byte(runJob(t, j, segment(1, "a b c"))), &v); err != nil {
			t.Errorf("%s: %v", j.Kind, err)
		}
	}
	if len(kinds) != 3 || kinds[0] != KindKeywords || kinds[1] != KindLanguage || kinds[2] != KindStats {
		t.Errorf("kinds = %v", kinds)
	}
}
