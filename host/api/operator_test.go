package api

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/analytics"
	"github.com/lsie-mlf/lsie/host/model"
)

func init() {
	for name, typ := range map[string]reflect.Type{
		"SegmentSummary":   reflect.TypeFor[SegmentSummary](),
		"FaceReward":       reflect.TypeFor[model.FaceReward](),
		"Physiology":       reflect.TypeFor[model.Physiology](),
		"CoModulation":     reflect.TypeFor[model.CoModulation](),
		"SegmentAnalytics": reflect.TypeFor[model.SegmentAnalytics](),
		"Enrichment":       reflect.TypeFor[model.Enrichment](),
		"StreamOverview":   reflect.TypeFor[StreamOverview](),
		"Overview":         reflect.TypeFor[Overview](),
		"TranscriptLine":   reflect.TypeFor[TranscriptLine](),
		"LiveView":         reflect.TypeFor[LiveView](),
		"ArmSummary":       reflect.TypeFor[analytics.ArmSummary](),
		"ExperimentView":   reflect.TypeFor[ExperimentView](),
		"ExperimentList":   reflect.TypeFor[experimentsResponse](),
		"Assignment":       reflect.TypeFor[Assignment](),
		"PhysioThresholds": reflect.TypeFor[PhysioThresholds](),
		"PhysiologyView":   reflect.TypeFor[PhysiologyView](),
		"Session":          reflect.TypeFor[model.Session](),
		"SessionList":      reflect.TypeFor[sessionsResponse](),
		"OperatorHealth":   reflect.TypeFor[operatorHealth](),
	} {
		extraSchemaTypes[name] = typ
	}
	extraExchanges = append(extraExchanges, operatorExchanges)
}

func ptr(v float64) *float64 { return &v }

// fakeInsights returns fixed views with every optional field set, so the
// responses exercise the whole documented schemas; fail makes each call
// fail as a broken store would.
type fakeInsights struct{ fail bool }

func (f fakeInsights) err() error {
	if f.fail {
		return errDisk
	}
	return nil
}

var fakeSummary = SegmentSummary{Index: 4, Status: model.SegmentPartial, Reasons: []string{model.ReasonPluginLag},
	WallStart: t0, WallEnd: t0.Add(10 * time.Second), FramesSeen: 50, FramesDropped: 1, Reward: ptr(0.4)}

var fakeAnalytics = &model.SegmentAnalytics{AU: "au12",
	Faces: []model.FaceReward{
		{Face: 1, NFramesInWindow: 50, P90Intensity: ptr(2), IntensitySource: "baseline", BaselineBNeutral: ptr(0.31),
			SemanticGate: ptr(1), GatedReward: ptr(0.4)},
		{Face: 2, NFramesInWindow: 1, NullReason: "too_few_frames"},
	},
	Reward: ptr(0.4),
	Physiology: []model.Physiology{{Subject: "streamer", State: model.PhysioFresh, RMSSD: ptr(42), HeartRate: ptr(70),
		Intervals: 60, LastAt: &t0, AgeSeconds: ptr(1.5)}},
	CoModulation: &model.CoModulation{A: "physio:streamer", B: "au:face1.au12", Samples: 4, NullReason: model.NullTooFewSamples},
}

func (f fakeInsights) Overview(context.Context) (*Overview, error) {
	sum := fakeSummary
	return &Overview{Host: model.HostHealth(liveHealth), Streams: []StreamOverview{
		{ID: "cam1", Source: "test://ball", Health: model.HealthDegraded, Hint: "plugin lag", Plugins: []string{"au"},
			Segments: 5, LastSegment: &sum, FramesPerSecond: 5},
		{ID: "cam2", Source: "test://smpte", Health: model.HealthStarting, Plugins: []string{}},
	}}, f.err()
}

func (f fakeInsights) Live(_ context.Context, stream string) (*LiveView, error) {
	if stream != "cam1" {
		return nil, fmt.Errorf("%w: %s", ErrStreamNotFound, stream)
	}
	sum := fakeSummary
	return &LiveView{Stream: stream, Health: model.HealthOK, LastSegment: &sum, Analytics: fakeAnalytics,
		Transcript: []TranscriptLine{{PTS: time.Second, Text: "ask not", Final: true}, {PTS: 3 * time.Second, Text: "what your"}},
		Series:     map[string]any{"au12": map[string][][2]float64{"face1": {{1, 0.5}}}, "f0_hz": [][2]float64{{1, 120}}, "loudness": [][2]float64{}},
	}, f.err()
}

func (f fakeInsights) Experiments(context.Context) ([]ExperimentView, error) {
	arms := analytics.Posterior([]string{"warm", "neutral"}, []model.ArmOutcome{{Arm: "warm", Reward: ptr(0.9)}, {Arm: "neutral"}}, 1, 1)
	return []ExperimentView{
		{Name: "greeting", Assignment: "schedule", Arms: arms, Markers: 2, Schedule: []string{"warm", "neutral"}, PriorAlpha: 1, PriorBeta: 1},
	}, f.err()
}

func (f fakeInsights) Assign(_ context.Context, name string) (*Assignment, error) {
	if name != "greeting" {
		return nil, fmt.Errorf("%w: %s", ErrExperimentNotFound, name)
	}
	ex, _ := f.Experiments(context.Background())
	return &Assignment{Experiment: name, Arm: "warm", Assignment: "thompson", Arms: ex[0].Arms}, f.err()
}

func (f fakeInsights) Physiology(context.Context) (*PhysiologyView, error) {
	return &PhysiologyView{Subjects: []model.Physiology{
		{Subject: "a", State: model.PhysioFresh, RMSSD: ptr(40), HeartRate: ptr(66), Intervals: 70, LastAt: &t0, AgeSeconds: ptr(0.5)},
		{Subject: "b", State: model.PhysioNoRMSSD, HeartRate: ptr(80)},
		{Subject: "c", State: model.PhysioStale, Intervals: 12},
		{Subject: "d", State: model.PhysioAbsent},
	}, CoModulation: &model.CoModulation{A: "physio:a", B: "physio:b", Value: ptr(-0.25), Samples: 30},
		Thresholds: PhysioThresholds{WindowS: 60, StaleAfterS: 10, AbsentAfterS: 60, MinIntervals: 10}}, f.err()
}

func (f fakeInsights) Sessions(context.Context, string) ([]model.Session, error) {
	return []model.Session{{RunID: "r1", StreamID: "cam1", Segments: 3, First: 0, Last: 2, WallStart: t0, WallEnd: t0.Add(30 * time.Second)}}, f.err()
}

func operatorExchanges(t *testing.T, token string) []exchange {
	st := newTestStore(t)
	full := New(Config{Token: token, Insights: fakeInsights{}}, st, liveHealth, nil)
	broken := New(Config{Token: token, Insights: fakeInsights{fail: true}}, st, liveHealth, nil)
	bare := New(Config{Token: token}, st, nil, nil)
	auth := map[string]string{"Authorization": "Bearer " + token}
	var ex []exchange
	for _, p := range []string{"overview", "live/cam1", "experiments", "physiology", "health", "sessions?stream=cam1"} {
		path := "/api/v1/operator/" + p
		ex = append(ex,
			exchange{"operator " + p, full, "GET", path, auth, "", 200},
			exchange{"operator " + p + " no token", full, "GET", path, nil, "", 401},
			exchange{"operator " + p + " unavailable", bare, "GET", path, auth, "", 503})
		if p != "health" {
			ex = append(ex, exchange{"operator " + p + " broken", broken, "GET", path, auth, "", 500})
		}
	}
	const assign = "/api/v1/experiments/greeting/assign"
	return append(ex,
		exchange{"operator live unknown", full, "GET", "/api/v1/operator/live/nope", auth, "", 404},
		exchange{"assign", full, "POST", assign, auth, "", 200},
		exchange{"assign unknown", full, "POST", "/api/v1/experiments/nope/assign", auth, "", 404},
		exchange{"assign no token", full, "POST", assign, nil, "", 401},
		exchange{"assign unavailable", bare, "POST", assign, auth, "", 503},
		exchange{"assign broken", broken, "POST", assign, auth, "", 500},
	)
}

func init() {
	// Only a handler panic makes these 500s: operator health reads the live
	// health and nothing else.
	extraUnreachable = append(extraUnreachable, "GET /api/v1/operator/health 500")
}

func TestOperatorErrorsAreSentinels(t *testing.T) {
	_, err := fakeInsights{}.Live(context.Background(), "x")
	if !errors.Is(err, ErrStreamNotFound) {
		t.Fatal(err)
	}
}
