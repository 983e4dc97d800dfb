package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// BenchmarkPostTelemetry measures the webhook end to end on SQLite: HMAC,
// decoding, the insert with placement, the answer; 100 physiology events
// per request, each with ten RR intervals.
func BenchmarkPostTelemetry(b *testing.B) {
	st := newTestStore(b)
	s, _ := telemetryServer(st, "", 0)
	h := s.Handler()
	b.ReportAllocs()
	n := 0
	at := t0.Add(time.Hour)
	for b.Loop() {
		evs := make([]string, 100)
		for i := range evs {
			n++
			evs[i] = fmt.Sprintf(`{"id":"b-%d","kind":"physiology","stream_id":"cam1","time":%q,"subject":"streamer",`+
				`"rr_ms":[812,790,805,798,820,811,794,803,799,808]}`, n, at.Add(time.Duration(n)*time.Second).Format(time.RFC3339Nano))
		}
		body := batch(evs...)
		rec := request(h, http.MethodPost, "/api/v1/telemetry", "localhost", signed("polar", testSecret, body), body)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"accepted":100`) {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/100, "µs/event")
}
