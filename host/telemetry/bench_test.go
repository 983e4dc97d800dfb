package telemetry

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// benchBatch is n physiology events with ten RR intervals each, the shape
// a chest strap's bridge posts.
func benchBatch(n int) []byte {
	evs := make([]string, n)
	for i := range evs {
		evs[i] = fmt.Sprintf(`{"id":"ev-%d","kind":"physiology","stream_id":"cam1","time":"2026-11-22T10:00:%02d.%03dZ",`+
			`"subject":"streamer","rr_ms":[812,790,805,798,820,811,794,803,799,808]}`, i, i%60, i%1000)
	}
	return []byte(`{"events":[` + strings.Join(evs, ",") + `]}`)
}

// BenchmarkDecode measures decoding and checking a 100-event batch.
func BenchmarkDecode(b *testing.B) {
	body := benchBatch(100)
	src := Source{Name: "polar", Secret: "0123456789abcdef"}
	now := time.Now()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		dec, rej, err := Decode(body, src, now, Validator{})
		if err != nil || len(dec) != 100 || len(rej) != 0 {
			b.Fatalf("%d %d %v", len(dec), len(rej), err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100, "ns/event")
}

// BenchmarkVerify measures the HMAC check of a 100-event batch (each
// request signed anew: a replay would be refused).
func BenchmarkVerify(b *testing.B) {
	body := benchBatch(100)
	const secret = "0123456789abcdef"
	now := time.Now()
	v := NewVerifier(Config{Sources: []Source{{Name: "polar", Secret: secret}}, MaxReplay: 1 << 30}, func() time.Time { return now })
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		// The same second signs the same bytes the same way: vary the body.
		h := http.Header{"X-Lsie-Source": {"polar"}}
		ts, sig := Sign(secret, now, append(body, []byte(fmt.Sprint(i))...))
		h.Set("X-Lsie-Timestamp", ts)
		h.Set("X-Lsie-Signature", sig)
		if _, err := v.Verify(h, append(body, []byte(fmt.Sprint(i))...)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
