package telemetry

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzDecode checks Decode's invariants on arbitrary bodies: it never
// panics, and on success every event of the array is accounted for exactly
// once, accepted events being complete.
func FuzzDecode(f *testing.F) {
	f.Add(batch(physio, stim, sevent))
	f.Add(batch(with(physio, `"rr_ms":[800,900]`), `[]`, `null`))
	f.Add([]byte(`{"events":[{"id":"a","kind":"stimulus","time":"2024-05-01T12:00:00+01:00","experiment":"thumb","arm":"b","payload":{"k":[1,2,{"z":null}]}}]}`))
	// Times in the wrong unit or type (issue #15): numbers and digit strings.
	f.Add(batch(with(without(physio, "time"), `"time":1714564800250`), with(without(stim, "time"), `"time":"1714564800000000"`),
		with(without(sevent, "time"), `"time":1.7145648e18`), with(without(sevent, "time"), `"time":-1714564800`)))
	src := Source{Name: "fz", ClockOffset: -1500 * time.Millisecond, Stream: "main"}
	f.Fuzz(func(t *testing.T, body []byte) {
		dec, rej, err := Decode(body, src, testNow, Validator{
			Stream:    testVal.Stream,
			Arms:      testVal.Arms,
			MaxEvents: 50,
		})
		if err != nil {
			if dec != nil || rej != nil {
				t.Fatalf("results with error %v", err)
			}
			return
		}
		var top struct{ Events []json.RawMessage }
		if e := json.Unmarshal(body, &top); e != nil {
			t.Fatalf("Decode accepted a body encoding/json refuses: %v", e)
		}
		n := len(top.Events)
		if len(dec)+len(rej) != n {
			t.Fatalf("%d decoded + %d rejected != %d events", len(dec), len(rej), n)
		}
		seen := make([]bool, n)
		mark := func(i int) {
			if i < 0 || i >= n || seen[i] {
				t.Fatalf("index %d out of range or repeated (n=%d)", i, n)
			}
			seen[i] = true
		}
		for _, d := range dec {
			mark(d.Index)
			ev := d.Event
			if ev.ID == "" || ev.Kind == "" || ev.Source != "fz" || ev.StreamID == "" {
				t.Fatalf("incomplete event %+v", ev)
			}
			if !ev.Time.Equal(ev.SourceTime.Add(src.ClockOffset)) || !ev.ReceivedAt.Equal(testNow) {
				t.Fatalf("times %v %v %v", ev.Time, ev.SourceTime, ev.ReceivedAt)
			}
			if y := ev.SourceTime.Year(); y < MinYear-1 || y > MaxYear {
				t.Fatalf("source time %v outside the accepted years", ev.SourceTime)
			}
			if ev.Payload != nil && !json.Valid(ev.Payload) {
				t.Fatalf("invalid payload %q", ev.Payload)
			}
		}
		for _, r := range rej {
			mark(r.Index)
			if r.Field == "" || r.Message == "" {
				t.Fatalf("empty rejection %+v", r)
			}
		}
	})
}

// FuzzVerifyTimestamp checks that whatever X-LSIE-Timestamp holds, Verify
// answers without panicking and never prints a negative or wrapped-around
// skew (a millisecond header used to read "-2562047h47m16.85s ahead").
func FuzzVerifyTimestamp(f *testing.F) {
	for _, s := range []string{"1714564830", "1714564830000", "1714564830000000", "1714564830000000000",
		"0", "99999999999", "9223372036854775807", "9999999999999999999", "-1", "1e12"} {
		f.Add(s)
	}
	body := batch(physio)
	f.Fuzz(func(t *testing.T, ts string) {
		v, _ := newTestVerifier(Config{})
		h := signed("polar", secret, testNow, body)
		h.Set(HeaderTimestamp, ts)
		_, err := v.Verify(h, body)
		if err == nil {
			return // only the real timestamp's signature matches
		}
		var ae *AuthError
		if !errors.As(err, &ae) {
			t.Fatalf("not an AuthError: %v", err)
		}
		if strings.Contains(ae.Reason, " is -") || strings.Contains(ae.Reason, "2562047h") {
			t.Fatalf("skew overflowed: %q", ae.Reason)
		}
	})
}
