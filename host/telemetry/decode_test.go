package telemetry

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
)

var (
	testNow = time.Date(2024, 5, 1, 12, 0, 30, 0, time.UTC)
	testSrc = Source{Name: "polar", Secret: "k", ClockOffset: 2 * time.Second}
	testVal = Validator{
		Stream: func(id string) bool { return id == "main" || id == "alt" },
		Arms: func(exp string) ([]string, bool) {
			if exp == "thumb" {
				return []string{"a", "b"}, true
			}
			return nil, false
		},
	}
)

const (
	physio = `{"id":"p1","kind":"physiology","stream_id":"main","time":"2024-05-01T12:00:00Z","subject":"streamer","hr_bpm":72}`
	stim   = `{"id":"s1","kind":"stimulus","stream_id":"main","time":"2024-05-01T12:00:00Z","experiment":"thumb","arm":"a"}`
	sevent = `{"id":"x1","kind":"stream_event","stream_id":"main","time":"2024-05-01T12:00:00Z","type":"chat"}`
)

// with returns ev (a one-line object) with extra fields added at its end.
func with(ev, extra string) string { return strings.TrimSuffix(ev, "}") + "," + extra + "}" }

// without returns ev without the field key (its value must not contain ',').
func without(ev, key string) string {
	i := strings.Index(ev, `"`+key+`":`)
	j := i + strings.IndexAny(ev[i:], ",}")
	if ev[j] == ',' {
		return ev[:i] + ev[j+1:]
	}
	return strings.TrimSuffix(ev[:i], ",") + ev[j:]
}

func batch(events ...string) []byte {
	return []byte(`{"events":[` + strings.Join(events, ",") + `]}`)
}

func TestDecodeRejections(t *testing.T) {
	long := strings.Repeat("x", 129)
	rr301 := "[" + strings.TrimSuffix(strings.Repeat("800,", 301), ",") + "]"
	bigPayload := `"` + strings.Repeat("a", MaxPayload-1) + `"` // 65537 bytes
	withDefault := testSrc
	withDefault.Stream = "gone"
	tests := []struct {
		name   string
		event  string
		src    *Source
		field  string
		msg    string
		wantID string
	}{
		{"not object", `[1]`, nil, "events[0]", "must be an object, got array", ""},
		{"null event", `null`, nil, "events[0]", "must be an object, got null", ""},
		{"unknown field", with(physio, `"foo":1`), nil, "events[0].foo", `unknown field "foo"`, "p1"},
		{"unknown odd key", with(physio, `"a b":1`), nil, "events[0]", `unknown field "a b"`, "p1"},
		{"unknown case", with(without(physio, "id"), `"ID":"p1"`), nil, "events[0].ID", `unknown field "ID"`, ""},
		{"duplicate field", with(physio, `"id":"p2"`), nil, "events[0].id", `duplicate field "id"`, "p1"},
		{"unknown before missing id", with(without(physio, "id"), `"foo":1`), nil, "events[0].foo", "unknown field", ""},
		{"id missing", without(physio, "id"), nil, "events[0].id", "required", ""},
		{"id number", with(without(physio, "id"), `"id":7`), nil, "events[0].id", "must be a string, got number", ""},
		{"id empty", with(without(physio, "id"), `"id":""`), nil, "events[0].id", "must be 1..128 printable ASCII characters without spaces", ""},
		{"id space", with(without(physio, "id"), `"id":"a b"`), nil, "events[0].id", "printable ASCII", ""},
		{"id long", with(without(physio, "id"), `"id":"`+long+`"`), nil, "events[0].id", "1..128", ""},
		{"id non-ascii", with(without(physio, "id"), `"id":"é"`), nil, "events[0].id", "printable ASCII", ""},
		{"id before kind", with(without(without(physio, "id"), "kind"), `"kind":"x"`), nil, "events[0].id", "required", ""},
		{"kind missing", without(physio, "kind"), nil, "events[0].kind", "required", "p1"},
		{"kind bad", with(without(physio, "kind"), `"kind":"heart"`), nil, "events[0].kind", `must be one of physiology, stimulus, stream_event, got "heart"`, "p1"},
		{"kind bool", with(without(physio, "kind"), `"kind":true`), nil, "events[0].kind", "must be a string, got boolean", "p1"},
		{"arm on physiology", with(physio, `"arm":"a"`), nil, "events[0].arm", "not allowed for kind physiology (a stimulus field)", "p1"},
		{"type on stimulus", with(stim, `"type":"chat"`), nil, "events[0].type", "not allowed for kind stimulus (a stream_event field)", "s1"},
		{"hr on stream_event", with(sevent, `"hr_bpm":70`), nil, "events[0].hr_bpm", "not allowed for kind stream_event (a physiology field)", "x1"},
		{"stream missing", without(physio, "stream_id"), nil, "events[0].stream_id", `required (source "polar" has no default stream)`, "p1"},
		{"stream unknown", with(without(physio, "stream_id"), `"stream_id":"zzz"`), nil, "events[0].stream_id", `unknown stream "zzz"`, "p1"},
		{"stream null", with(without(physio, "stream_id"), `"stream_id":null`), nil, "events[0].stream_id", "must be a string, got null", "p1"},
		{"stream control", with(without(physio, "stream_id"), `"stream_id":"a\u0001"`), nil, "events[0].stream_id", "without control characters", "p1"},
		{"default stream unknown", without(physio, "stream_id"), &withDefault, "events[0].stream_id", `default stream "gone" is unknown`, "p1"},
		{"time missing", without(physio, "time"), nil, "events[0].time", "required", "p1"},
		{"time number", with(without(physio, "time"), `"time":true`), nil, "events[0].time", "must be a string, got boolean", "p1"},
		{"time unix seconds", with(without(physio, "time"), `"time":1714564800`), nil, "events[0].time", "must be an RFC 3339 time with a UTC offset, e.g. 2024-05-01T12:00:00.250Z, got a number that looks like unix seconds (2024-05-01T12:00:00Z)", "p1"},
		{"time unix ms", with(without(physio, "time"), `"time":1714564800250`), nil, "events[0].time", "got a number that looks like unix milliseconds (2024-05-01T12:00:00.25Z)", "p1"},
		{"time unix us", with(without(physio, "time"), `"time":1714564800000000`), nil, "events[0].time", "looks like unix microseconds", "p1"},
		{"time unix ns", with(without(physio, "time"), `"time":1714564800000000000`), nil, "events[0].time", "looks like unix nanoseconds", "p1"},
		{"time unix ms float", with(without(physio, "time"), `"time":1.7145648e12`), nil, "events[0].time", "looks like unix milliseconds", "p1"},
		{"time unix ms text", with(without(physio, "time"), `"time":"1714564800250"`), nil, "events[0].time", "got a string of digits that looks like unix milliseconds", "p1"},
		{"time number no unit", with(without(physio, "time"), `"time":42`), nil, "events[0].time", "must be an RFC 3339 time with a UTC offset, e.g. 2024-05-01T12:00:00.250Z, got number", "p1"},
		{"time huge number", with(without(physio, "time"), `"time":1e400`), nil, "events[0].time", "got number", "p1"},
		{"time no offset", with(without(physio, "time"), `"time":"2024-05-01T12:00:00"`), nil, "events[0].time", "must be an RFC 3339 time with a UTC offset", "p1"},
		{"time date only", with(without(physio, "time"), `"time":"2024-05-01"`), nil, "events[0].time", "RFC 3339", "p1"},
		{"time space", with(without(physio, "time"), `"time":"2024-05-01 12:00:00Z"`), nil, "events[0].time", "RFC 3339", "p1"},
		{"time lowercase z", with(without(physio, "time"), `"time":"2024-05-01T12:00:00z"`), nil, "events[0].time", "RFC 3339", "p1"},
		{"time empty fraction", with(without(physio, "time"), `"time":"2024-05-01T12:00:00.Z"`), nil, "events[0].time", "fraction of 1..9 digits", "p1"},
		{"time long fraction", with(without(physio, "time"), `"time":"2024-05-01T12:00:00.1234567891Z"`), nil, "events[0].time", "fraction of 1..9 digits", "p1"},
		{"time offset range", with(without(physio, "time"), `"time":"2024-05-01T12:00:00+24:00"`), nil, "events[0].time", "offset out of range", "p1"},
		{"time offset short", with(without(physio, "time"), `"time":"2024-05-01T12:00:00+0200"`), nil, "events[0].time", "RFC 3339", "p1"},
		{"time year low", with(without(physio, "time"), `"time":"1999-12-31T23:59:59Z"`), nil, "events[0].time", "year 1999 is outside 2000..2200", "p1"},
		{"time year high", with(without(physio, "time"), `"time":"2201-01-01T00:00:00Z"`), nil, "events[0].time", "year 2201 is outside 2000..2200", "p1"},
		{"time month 13", with(without(physio, "time"), `"time":"2024-13-01T00:00:00Z"`), nil, "events[0].time", "month out of range", "p1"},
		{"time feb 30", with(without(physio, "time"), `"time":"2024-02-30T00:00:00Z"`), nil, "events[0].time", "day out of range", "p1"},
		{"time hour 24", with(without(physio, "time"), `"time":"2024-02-01T24:00:00Z"`), nil, "events[0].time", "hour out of range", "p1"},
		{"payload too big", with(physio, `"payload":`+bigPayload), nil, "events[0].payload", "larger than 65536 bytes (compacted: 65537)", "p1"},
		{"subject missing", without(physio, "subject"), nil, "events[0].subject", "required", "p1"},
		{"subject space", with(without(physio, "subject"), `"subject":"a b"`), nil, "events[0].subject", "must be 1..64 characters of [A-Za-z0-9_.-]", "p1"},
		{"subject empty", with(without(physio, "subject"), `"subject":""`), nil, "events[0].subject", "1..64", "p1"},
		{"subject long", with(without(physio, "subject"), `"subject":"`+strings.Repeat("s", 65)+`"`), nil, "events[0].subject", "1..64", "p1"},
		{"hr string", with(without(physio, "hr_bpm"), `"hr_bpm":"72"`), nil, "events[0].hr_bpm", "must be a number, got string", "p1"},
		{"hr low", with(without(physio, "hr_bpm"), `"hr_bpm":19.99`), nil, "events[0].hr_bpm", "must be between 20 and 300, got 19.99", "p1"},
		{"hr high", with(without(physio, "hr_bpm"), `"hr_bpm":300.5`), nil, "events[0].hr_bpm", "must be between 20 and 300, got 300.5", "p1"},
		{"hr huge", with(without(physio, "hr_bpm"), `"hr_bpm":1e400`), nil, "events[0].hr_bpm", "got an out-of-range number", "p1"},
		{"hr negative huge", with(without(physio, "hr_bpm"), `"hr_bpm":-1e400`), nil, "events[0].hr_bpm", "got an out-of-range number", "p1"},
		{"rr object", with(physio, `"rr_ms":{}`), nil, "events[0].rr_ms", "must be an array of numbers, got object", "p1"},
		{"rr element low", with(physio, `"rr_ms":[800, 100, 900]`), nil, "events[0].rr_ms[1]", "must be between 200 and 3000, got 100", "p1"},
		{"rr element high", with(physio, `"rr_ms":[800,3000.01]`), nil, "events[0].rr_ms[1]", "got 3000.01", "p1"},
		{"rr element string", with(physio, `"rr_ms":[800,"x"]`), nil, "events[0].rr_ms[1]", "must be a number, got string", "p1"},
		{"rr element null", with(physio, `"rr_ms":[null]`), nil, "events[0].rr_ms[0]", "must be a number, got null", "p1"},
		{"rr too many", with(physio, `"rr_ms":`+rr301), nil, "events[0].rr_ms", "more than 300 intervals (301)", "p1"},
		{"no heart data", without(physio, "hr_bpm"), nil, "events[0]", "a physiology event needs hr_bpm or a non-empty rr_ms", "p1"},
		{"empty rr only", with(without(physio, "hr_bpm"), `"rr_ms":[]`), nil, "events[0]", "needs hr_bpm or a non-empty rr_ms", "p1"},
		{"experiment missing", without(stim, "experiment"), nil, "events[0].experiment", "required", "s1"},
		{"experiment unknown", with(without(stim, "experiment"), `"experiment":"nope"`), nil, "events[0].experiment", `unknown experiment "nope"`, "s1"},
		{"experiment empty", with(without(stim, "experiment"), `"experiment":""`), nil, "events[0].experiment", "1..128 characters", "s1"},
		{"arm missing", without(stim, "arm"), nil, "events[0].arm", "required", "s1"},
		{"arm unknown", with(without(stim, "arm"), `"arm":"c"`), nil, "events[0].arm", `unknown arm "c" of experiment "thumb"`, "s1"},
		{"arm array", with(without(stim, "arm"), `"arm":["a"]`), nil, "events[0].arm", "must be a string, got array", "s1"},
		{"type missing", without(sevent, "type"), nil, "events[0].type", "required", "x1"},
		{"type upper", with(without(sevent, "type"), `"type":"Chat"`), nil, "events[0].type", "must be 1..64 characters of [a-z0-9_.-]", "x1"},
		{"type long", with(without(sevent, "type"), `"type":"`+strings.Repeat("t", 65)+`"`), nil, "events[0].type", "1..64", "x1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := testSrc
			if tc.src != nil {
				src = *tc.src
			}
			dec, rej, err := Decode(batch(tc.event), src, testNow, testVal)
			if err != nil {
				t.Fatalf("body error: %v", err)
			}
			if len(dec) != 0 || len(rej) != 1 {
				t.Fatalf("decoded %d, rejected %v; want one rejection", len(dec), rej)
			}
			r := rej[0]
			if r.Index != 0 || r.Field != tc.field || !strings.Contains(r.Message, tc.msg) || r.ID != tc.wantID {
				t.Errorf("got %+v; want field %q, message containing %q, id %q", r, tc.field, tc.msg, tc.wantID)
			}
		})
	}
}

func TestDecodeAccepts(t *testing.T) {
	rr300 := "[" + strings.TrimSuffix(strings.Repeat("200,3000,", 150), ",") + "]"
	payload64k := `"` + strings.Repeat("a", MaxPayload-2) + `"`
	tests := []struct {
		name  string
		event string
		check func(t *testing.T, ev model.TelemetryEvent)
	}{
		{"hr low bound", with(without(physio, "hr_bpm"), `"hr_bpm":20`), func(t *testing.T, ev model.TelemetryEvent) {
			if ev.HeartRate == nil || *ev.HeartRate != 20 || ev.RR != nil {
				t.Errorf("hr %v rr %v", ev.HeartRate, ev.RR)
			}
		}},
		{"hr high bound exponent", with(without(physio, "hr_bpm"), `"hr_bpm":3e2`), func(t *testing.T, ev model.TelemetryEvent) {
			if *ev.HeartRate != 300 {
				t.Errorf("hr %v", *ev.HeartRate)
			}
		}},
		{"rr only, 300 at bounds", with(without(physio, "hr_bpm"), `"rr_ms":`+rr300), func(t *testing.T, ev model.TelemetryEvent) {
			if ev.HeartRate != nil || len(ev.RR) != 300 || ev.RR[0] != 200 || ev.RR[1] != 3000 {
				t.Errorf("hr %v rr %d", ev.HeartRate, len(ev.RR))
			}
		}},
		{"rr exact decimal", with(physio, `"rr_ms":[ 812.5 , 0.9e3 ]`), func(t *testing.T, ev model.TelemetryEvent) {
			if !reflect.DeepEqual(ev.RR, []float64{812.5, 900}) {
				t.Errorf("rr %v", ev.RR)
			}
		}},
		{"year 2000 with offset", with(without(physio, "time"), `"time":"2000-01-01T00:30:00.123456789+01:00"`), func(t *testing.T, ev model.TelemetryEvent) {
			want := time.Date(1999, 12, 31, 23, 30, 0, 123456789, time.UTC)
			if !ev.SourceTime.Equal(want) || ev.SourceTime.Location() != time.UTC {
				t.Errorf("source time %v", ev.SourceTime)
			}
		}},
		{"year 2200", with(without(physio, "time"), `"time":"2200-12-31T23:59:59-05:30"`), nil},
		{"payload compacted", with(sevent, `"payload": { "text" : "hi" , "n": [1, 2] }`), func(t *testing.T, ev model.TelemetryEvent) {
			if string(ev.Payload) != `{"text":"hi","n":[1,2]}` {
				t.Errorf("payload %s", ev.Payload)
			}
		}},
		{"payload at limit", with(sevent, `"payload":`+payload64k), func(t *testing.T, ev model.TelemetryEvent) {
			if len(ev.Payload) != MaxPayload {
				t.Errorf("payload %d bytes", len(ev.Payload))
			}
		}},
		{"payload null", with(sevent, `"payload":null`), func(t *testing.T, ev model.TelemetryEvent) {
			if ev.Payload != nil {
				t.Errorf("payload %s", ev.Payload)
			}
		}},
		{"payload scalar", with(stim, `"payload":5`), func(t *testing.T, ev model.TelemetryEvent) {
			if string(ev.Payload) != "5" || ev.Experiment != "thumb" || ev.Arm != "a" {
				t.Errorf("%+v", ev)
			}
		}},
		{"type charset", with(without(sevent, "type"), `"type":"scene_change.v2-x"`), func(t *testing.T, ev model.TelemetryEvent) {
			if ev.Type != "scene_change.v2-x" || ev.Kind != model.TelemetryStreamEvent {
				t.Errorf("%+v", ev)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dec, rej, err := Decode(batch(tc.event), testSrc, testNow, testVal)
			if err != nil || len(rej) != 0 || len(dec) != 1 {
				t.Fatalf("err %v, rejected %v, decoded %d", err, rej, len(dec))
			}
			if tc.check != nil {
				tc.check(t, dec[0].Event)
			}
		})
	}
}

func TestDecodeFullEvent(t *testing.T) {
	dec, rej, err := Decode(batch(with(physio, `"rr_ms":[810,790]`)), testSrc, testNow, testVal)
	if err != nil || len(rej) != 0 {
		t.Fatal(err, rej)
	}
	hr := 72.0
	src := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	want := model.TelemetryEvent{
		Source: "polar", ID: "p1", Kind: model.TelemetryPhysiology, StreamID: "main",
		Time: src.Add(2 * time.Second), SourceTime: src, ReceivedAt: testNow,
		Subject: "streamer", HeartRate: &hr, RR: []float64{810, 790},
	}
	if !reflect.DeepEqual(dec, []Decoded{{Index: 0, Event: want}}) {
		t.Errorf("got %+v\nwant %+v", dec[0].Event, want)
	}
}

func TestDecodeClockOffset(t *testing.T) {
	for _, off := range []time.Duration{-90 * time.Second, 0, 1500 * time.Millisecond} {
		src := testSrc
		src.ClockOffset = off
		dec, _, err := Decode(batch(physio), src, testNow, testVal)
		if err != nil || len(dec) != 1 {
			t.Fatal(err, dec)
		}
		ev := dec[0].Event
		want := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC).Add(off)
		if !ev.Time.Equal(want) || ev.SourceTime.Add(off) != ev.Time {
			t.Errorf("offset %v: time %v, want %v", off, ev.Time, want)
		}
	}
}

func TestDecodeDefaultStream(t *testing.T) {
	src := testSrc
	src.Stream = "alt"
	dec, rej, err := Decode(batch(without(physio, "stream_id"), physio), src, testNow, testVal)
	if err != nil || len(rej) != 0 || len(dec) != 2 {
		t.Fatal(err, rej, dec)
	}
	if dec[0].Event.StreamID != "alt" || dec[1].Event.StreamID != "main" {
		t.Errorf("streams %q %q; want default alt, explicit main", dec[0].Event.StreamID, dec[1].Event.StreamID)
	}
}

func TestDecodeNilValidator(t *testing.T) {
	ev := with(without(without(stim, "experiment"), "arm"), `"experiment":"anything","arm":"Variant A"`)
	ev = with(without(ev, "stream_id"), `"stream_id":"whatever"`)
	dec, rej, err := Decode(batch(ev), testSrc, testNow, Validator{})
	if err != nil || len(rej) != 0 || len(dec) != 1 {
		t.Fatal(err, rej, dec)
	}
	if e := dec[0].Event; e.Experiment != "anything" || e.Arm != "Variant A" || e.StreamID != "whatever" {
		t.Errorf("%+v", e)
	}
}

func TestDecodeMixedBatch(t *testing.T) {
	body := batch(
		physio,
		with(physio, `"arm":"a"`),
		stim,
		`"oops"`,
		with(without(sevent, "id"), `"id":"x2"`),
		with(without(stim, "arm"), `"arm":"z"`),
	)
	dec, rej, err := Decode(body, testSrc, testNow, testVal)
	if err != nil {
		t.Fatal(err)
	}
	var gotDec []string
	for _, d := range dec {
		gotDec = append(gotDec, fmt.Sprintf("%d:%s", d.Index, d.Event.ID))
	}
	var gotRej []string
	for _, r := range rej {
		gotRej = append(gotRej, fmt.Sprintf("%d:%s:%s", r.Index, r.ID, r.Field))
	}
	wantDec := []string{"0:p1", "2:s1", "4:x2"}
	wantRej := []string{"1:p1:events[1].arm", "3::events[3]", "5:s1:events[5].arm"}
	if !reflect.DeepEqual(gotDec, wantDec) || !reflect.DeepEqual(gotRej, wantRej) {
		t.Errorf("decoded %v, rejected %v; want %v, %v", gotDec, gotRej, wantDec, wantRej)
	}
	if s := rej[2].String(); s != `events[5].arm: unknown arm "z" of experiment "thumb"` {
		t.Errorf("String() = %q", s)
	}
}

func TestDecodeEmptyBatch(t *testing.T) {
	dec, rej, err := Decode([]byte(` {"events": [ ] } `), testSrc, testNow, testVal)
	if err != nil || dec != nil || rej != nil {
		t.Errorf("got %v %v %v", dec, rej, err)
	}
}

func TestDecodeBodyErrors(t *testing.T) {
	three := batch(physio, physio, physio)
	tests := []struct {
		name      string
		body      string
		max       int
		field     string
		line, col int
		offset    int64
		msg       string
	}{
		{"empty", "", 0, "", 1, 1, 0, "empty body"},
		{"blank", " \n ", 0, "", 2, 2, 3, "empty body"},
		{"not json", "hello", 0, "", 1, 1, 0, "invalid JSON: invalid character 'h'"},
		{"array", ` [1]`, 0, "", 1, 2, 1, "body must be a JSON object {\"events\": [...]}, got array"},
		{"string", `"x"`, 0, "", 1, 1, 0, "got string"},
		{"missing events", `{ }`, 0, "events", 1, 3, 2, `missing field "events"`},
		{"events object", `{"events": {}}`, 0, "events", 1, 12, 11, "must be an array of events, got object"},
		{"events null", `{"events":null}`, 0, "events", 1, 11, 10, "must be an array of events, got null"},
		{"unknown top-level", `{"events":[],"extra":1}`, 0, "", 1, 14, 13, `unknown field "extra"; want {"events": [...]}`},
		{"unknown first", `{"Events":[]}`, 0, "", 1, 2, 1, `unknown field "Events"`},
		{"duplicate events", `{"events":[],"events":[]}`, 0, "events", 1, 14, 13, `duplicate field "events"`},
		{"trailing data", "{\"events\":[]}\n x", 0, "", 2, 2, 15, "trailing data after the JSON object"},
		{"second object", `{"events":[]}{}`, 0, "", 1, 14, 13, "trailing data"},
		{"too many", string(three), 2, "events", 1, 12 + 2*(len(physio)+1), 11 + 2*int64(len(physio)+1), "more than 2 events"},
		{"syntax line 3", "{\"events\": [\n  {\"id\": \"a\"},\n  {\"id\": x}\n]}", 0, "events[1]", 3, 10, 37, "invalid JSON: invalid character 'x' looking for beginning of value"},
		{"syntax in envelope", "{\"events\" []}", 0, "events", 1, 11, 10, "invalid character '[' after object key"},
		{"truncated", `{"events":[{"id":"a"}`, 0, "events", 1, 22, 21, "unexpected end of JSON input"},
		{"truncated element", `{"events":[{"id":`, 0, "events[0]", 1, 18, 17, "unexpected end of JSON input"},
		{"bad separator", `{"events":[1 2]}`, 0, "events[1]", 1, 14, 13, "after array element"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dec, rej, err := Decode([]byte(tc.body), testSrc, testNow, Validator{MaxEvents: tc.max})
			var be *BodyError
			if !errors.As(err, &be) {
				t.Fatalf("err %v (decoded %d, rejected %d); want *BodyError", err, len(dec), len(rej))
			}
			if dec != nil || rej != nil {
				t.Errorf("results returned with a body error")
			}
			if be.Field != tc.field || be.Line != tc.line || be.Col != tc.col || be.Offset != tc.offset || !strings.Contains(be.Message, tc.msg) {
				t.Errorf("got %+v; want field %q line %d col %d offset %d message containing %q", *be, tc.field, tc.line, tc.col, tc.offset, tc.msg)
			}
		})
	}
}

func TestBodyErrorString(t *testing.T) {
	_, _, err := Decode([]byte("{\"events\": [\n  {},\n  {\"id\": x}\n]}"), testSrc, testNow, testVal)
	want := "body at line 3, col 10 (byte 28): events[1]: invalid JSON: invalid character 'x' looking for beginning of value"
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	b, _ := json.Marshal(err)
	if !strings.Contains(string(b), `"field":"events[1]","offset":28,"line":3,"col":10`) {
		t.Errorf("JSON %s", b)
	}
}

func TestDecodeDefaultMaxEvents(t *testing.T) {
	events := make([]string, DefaultMaxEvents+1)
	for i := range events {
		events[i] = "1"
	}
	_, rej, err := Decode(batch(events[:DefaultMaxEvents]...), testSrc, testNow, Validator{})
	if err != nil || len(rej) != DefaultMaxEvents {
		t.Fatalf("at the limit: err %v, %d rejected", err, len(rej))
	}
	_, _, err = Decode(batch(events...), testSrc, testNow, Validator{})
	var be *BodyError
	if !errors.As(err, &be) || be.Message != "more than 1000 events" {
		t.Errorf("over the limit: %v", err)
	}
}
