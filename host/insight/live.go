package insight

import (
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lsie-mlf/lsie/host/api"
	"github.com/lsie-mlf/lsie/host/model"
)

// Bounds of the live history a page gets when it opens; WebSocket messages
// carry everything after that.
const (
	liveTranscriptLines = 50
	livePoints          = 600 // per series: two minutes at 5 fps
)

// Topics of transcript items (sdk/transcript).
const (
	topicPartial = "transcript.partial@1"
	topicFinal   = "transcript.final@1"
)

// Live keeps each stream's recent transcript and plot points, fed with
// plugin results as they arrive, so the Live Session page opens with
// context instead of empty plots. Safe for concurrent use.
type Live struct {
	mu      sync.Mutex
	streams map[string]*liveStream
}

type liveStream struct {
	transcript []api.TranscriptLine
	// points per series key: "faceN.auXX", "f0_hz", "loudness".
	points map[string][][2]float64
}

// liveSeries caps a stream's series: the face tracker hands out new ids
// all the time (a face lost for a moment comes back as a new one), so the
// series of faces not seen lately go, oldest last point first.
const liveSeries = 64

// NewLive makes an empty Live.
func NewLive() *Live { return &Live{streams: map[string]*liveStream{}} }

// Observe records one plugin result item of a stream, received at at.
func (l *Live) Observe(stream string, at time.Time, it model.Item) {
	ms := float64(at.UnixNano()) / 1e6
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.streams[stream]
	if s == nil {
		s = &liveStream{points: map[string][][2]float64{}}
		l.streams[stream] = s
	}
	switch it.Topic {
	case topicPartial, topicFinal:
		final := it.Topic == topicFinal
		line := api.TranscriptLine{PTS: it.PTS, Text: it.Text, Final: final}
		if n := len(s.transcript); n > 0 && !s.transcript[n-1].Final {
			s.transcript[n-1] = line // a partial is replaced by what follows it
		} else {
			s.transcript = append(s.transcript, line)
		}
		if len(s.transcript) > liveTranscriptLines {
			s.transcript = append(s.transcript[:0], s.transcript[len(s.transcript)-liveTranscriptLines:]...)
		}
		return
	}
	for k, v := range it.Fields {
		if k == "f0_hz" || k == "loudness" || (strings.HasPrefix(k, "face") && strings.Contains(k, ".au") &&
			!strings.HasSuffix(k, "_g") && !strings.HasSuffix(k, "_b")) {
			pts := append(s.points[k], [2]float64{ms, v})
			// Trimmed in bulk, not per point: items come at up to 100/s.
			if len(pts) >= 2*livePoints {
				pts = append(pts[:0], pts[len(pts)-livePoints:]...)
			}
			s.points[k] = pts
		}
	}
	if len(s.points) > liveSeries {
		s.evictOldest(len(s.points) - liveSeries)
	}
}

// evictOldest removes the n series whose last point is oldest.
func (s *liveStream) evictOldest(n int) {
	keys := make([]string, 0, len(s.points))
	for k := range s.points {
		keys = append(keys, k)
	}
	last := func(k string) float64 { p := s.points[k]; return p[len(p)-1][0] }
	sort.Slice(keys, func(i, j int) bool { return last(keys[i]) < last(keys[j]) })
	for _, k := range keys[:n] {
		delete(s.points, k)
	}
}

// Forget drops a removed stream's history.
func (l *Live) Forget(stream string) {
	l.mu.Lock()
	delete(l.streams, stream)
	l.mu.Unlock()
}

// View returns copies of a stream's transcript and series: the AU's points
// per face under the AU's name (the baseline-corrected _c values where a
// face has them), f0_hz and loudness.
func (l *Live) View(stream, au string) ([]api.TranscriptLine, map[string]any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	series := map[string]any{"f0_hz": [][2]float64{}, "loudness": [][2]float64{}}
	faces := map[string][][2]float64{}
	series[au] = faces
	s := l.streams[stream]
	if s == nil {
		return []api.TranscriptLine{}, series
	}
	for _, k := range []string{"f0_hz", "loudness"} {
		if p := s.points[k]; p != nil {
			series[k] = recent(p)
		}
	}
	keys := make([]string, 0, len(s.points))
	for k := range s.points {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		face, field, ok := strings.Cut(k, ".")
		if !ok || (field != au && field != au+"_c") {
			continue
		}
		if field == au {
			if _, corrected := s.points[face+"."+au+"_c"]; corrected {
				continue
			}
		}
		faces[face] = recent(s.points[k])
	}
	return append([]api.TranscriptLine{}, s.transcript...), series
}

// recent copies the last livePoints points.
func recent(p [][2]float64) [][2]float64 {
	return append([][2]float64(nil), p[max(0, len(p)-livePoints):]...)
}
