// Package insight derives what operators see from the store, the live
// results and the analytics formulas (host/analytics): a closed segment's
// analytics before it is stored, and the views of the operator pages and
// experiment routes (api.Insights).
package insight

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lsie-mlf/lsie/host/analytics"
	"github.com/lsie-mlf/lsie/host/api"
	"github.com/lsie-mlf/lsie/host/config"
	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/store"
)

// subjectLookback bounds how far back the physiology page looks for
// subjects that are not configured: a strap unused for a day is gone.
const subjectLookback = 24 * time.Hour

// HealthSource is the host's live health.
type HealthSource interface {
	Health() model.HostHealth
}

// Insight implements api.Insights and the per-segment analytics.
type Insight struct {
	st     store.Store
	hs     HealthSource
	an     config.Analytics
	exps   []config.Experiment
	reward analytics.RewardConfig
	physio analytics.PhysioConfig
	live   *Live
	// auHistory keeps recent AU intensity samples per "faceN.auXX" for
	// co-modulation windows longer than a segment.
	auHistory *analytics.History
	now       func() time.Time

	mu  sync.Mutex
	rng *rand.Rand
}

var _ api.Insights = (*Insight)(nil)

// New builds an Insight. hs may be nil (no live health).
func New(st store.Store, hs HealthSource, an config.Analytics, exps []config.Experiment, live *Live) *Insight {
	return &Insight{
		st: st, hs: hs, an: an, exps: exps, live: live,
		reward: analytics.RewardConfig{AUPlugin: an.AUPlugin, AU: an.AU, SemanticPlugin: an.SemanticPlugin,
			MinFrames: an.MinFrames}.WithDefaults(),
		physio: analytics.PhysioConfig{Window: an.Physiology.Window, StaleAfter: an.Physiology.StaleAfter,
			AbsentAfter: an.Physiology.AbsentAfter, MinIntervals: an.Physiology.MinIntervals}.WithDefaults(),
		auHistory: analytics.NewHistory(0),
		now:       time.Now,
		rng:       rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x15e)),
	}
}

// Analyze computes a closed segment's analytics: the per-face rewards, the
// stream's subjects' physiology at the segment's end and, when configured,
// co-modulation over the trailing window.
func (in *Insight) Analyze(ctx context.Context, seg *model.Segment) error {
	faces, reward := analytics.Rewards(*seg, in.reward)
	if faces == nil {
		faces = []model.FaceReward{}
	}
	a := &model.SegmentAnalytics{AU: in.reward.AU, Faces: faces, Reward: reward}
	in.rememberAU(*seg)
	at := seg.WallEnd
	evs, err := in.st.Telemetry(ctx, model.TelemetryQuery{StreamID: seg.StreamID, Kind: model.TelemetryPhysiology,
		From: at.Add(-in.lookback()), To: at.Add(time.Nanosecond)})
	if err != nil {
		seg.Analytics = a
		return fmt.Errorf("physiology for segment %d: %w", seg.Index, err)
	}
	for _, subject := range in.subjects(evs) {
		a.Physiology = append(a.Physiology, analytics.Physiology(subject, evs, at, in.physio))
	}
	if cm := in.an.CoModulation; cm != nil {
		c := in.coModulate(cm, evs, at)
		a.CoModulation = &c
	}
	seg.Analytics = a
	return nil
}

// lookback is how far before a moment physiology events matter: the RMSSD
// window, or the absent threshold when longer, and the co-modulation window.
func (in *Insight) lookback() time.Duration {
	d := max(in.physio.Window, in.physio.AbsentAfter)
	if cm := in.an.CoModulation; cm != nil {
		d = max(d, cm.Window)
	}
	return d
}

// subjects are the configured subjects, or those the events name.
func (in *Insight) subjects(evs []model.TelemetryEvent) []string {
	if len(in.an.Physiology.Subjects) > 0 {
		return in.an.Physiology.Subjects
	}
	var out []string
	for _, e := range evs {
		if e.Subject != "" && !slices.Contains(out, e.Subject) {
			out = append(out, e.Subject)
		}
	}
	sort.Strings(out)
	return out
}

// rememberAU adds the segment's AU items to the history on the wall clock.
func (in *Insight) rememberAU(seg model.Segment) {
	p, ok := seg.Plugins[in.reward.AUPlugin]
	if !ok {
		return
	}
	suffix := "." + in.reward.AU
	for _, it := range p.Items {
		at := seg.WallStart.Add(it.PTS - seg.MediaStart)
		for k, v := range it.Fields {
			if strings.HasPrefix(k, "face") && (strings.HasSuffix(k, suffix) || strings.HasSuffix(k, suffix+"_c")) {
				in.auHistory.Add(k, analytics.Sample{T: at, V: v})
			}
		}
	}
	in.auHistory.Prune(seg.WallEnd.Add(-time.Hour))
}

// coModulate correlates the configured series at a moment.
func (in *Insight) coModulate(cm *config.CoModulation, evs []model.TelemetryEvent, at time.Time) model.CoModulation {
	cfg := analytics.CoModConfig{Window: cm.Window, MinSamples: cm.MinSamples}.WithDefaults()
	series := func(name string) ([]analytics.Sample, bool) {
		if subject, ok := strings.CutPrefix(name, "physio:"); ok {
			ph := analytics.Physiology(subject, evs, at, in.physio)
			var own []model.TelemetryEvent
			for _, e := range evs {
				if e.Subject == subject {
					own = append(own, e)
				}
			}
			stale := ph.State == model.PhysioStale || ph.State == model.PhysioAbsent
			return analytics.HeartRateSamples(own), stale
		}
		field, _ := strings.CutPrefix(name, "au:")
		return in.auHistory.Range(field, at.Add(-cfg.Window), at.Add(time.Nanosecond)), false
	}
	sa, staleA := series(cm.A)
	sb, staleB := series(cm.B)
	return analytics.CoModulate(cm.A, cm.B, sa, sb, staleA, staleB, at, cfg)
}

// Overview implements api.Insights.
func (in *Insight) Overview(ctx context.Context) (*api.Overview, error) {
	streams, err := in.st.Streams(ctx)
	if err != nil {
		return nil, err
	}
	o := &api.Overview{Host: in.health(), Streams: []api.StreamOverview{}}
	live := map[string]model.ComponentHealth{}
	for _, c := range o.Host.Components {
		if c.Kind == "stream" {
			live[c.Name] = c
		}
	}
	for _, s := range streams {
		so := api.StreamOverview{ID: s.ID, Source: s.Source, Health: s.Health, Hint: s.Hint, Plugins: s.Plugins}
		if c, ok := live[s.ID]; ok {
			so.Health, so.Hint = c.Health, c.Hint
		}
		if so.Plugins == nil {
			so.Plugins = []string{}
		}
		last, n, err := in.lastSegment(ctx, s.ID)
		if err != nil {
			return nil, err
		}
		so.Segments = n
		if last != nil {
			sum := api.Summarize(*last)
			so.LastSegment = &sum
			if d := last.WallEnd.Sub(last.WallStart).Seconds(); d > 0 {
				so.FramesPerSecond = float64(last.FramesSeen) / d
			}
		}
		o.Streams = append(o.Streams, so)
	}
	return o, nil
}

// lastSegment returns a stream's newest stored segment (without items) and
// how many it has stored.
func (in *Insight) lastSegment(ctx context.Context, stream string) (*model.Segment, int, error) {
	sessions, err := in.st.Sessions(ctx, stream)
	if err != nil {
		return nil, 0, err
	}
	n, last := 0, int64(-1)
	for _, s := range sessions {
		n += s.Segments
		last = max(last, s.Last)
	}
	if last < 0 {
		return nil, n, nil
	}
	segs, err := in.st.Segments(ctx, stream, last, 1)
	if err != nil || len(segs) == 0 {
		return nil, n, err
	}
	return &segs[0], n, nil
}

func (in *Insight) health() model.HostHealth {
	if in.hs == nil {
		return model.HostHealth{Status: model.HealthOK, Components: []model.ComponentHealth{}}
	}
	h := in.hs.Health()
	if h.Components == nil {
		h.Components = []model.ComponentHealth{}
	}
	return h
}

// Live implements api.Insights.
func (in *Insight) Live(ctx context.Context, stream string) (*api.LiveView, error) {
	s, err := in.st.Stream(ctx, stream)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", api.ErrStreamNotFound, stream)
	}
	if err != nil {
		return nil, err
	}
	v := &api.LiveView{Stream: stream, Health: s.Health}
	for _, c := range in.health().Components {
		if c.Kind == "stream" && c.Name == stream {
			v.Health = c.Health
		}
	}
	last, _, err := in.lastSegment(ctx, stream)
	if err != nil {
		return nil, err
	}
	if last != nil {
		sum := api.Summarize(*last)
		v.LastSegment, v.Analytics = &sum, last.Analytics
	}
	v.Transcript, v.Series = in.live.View(stream, in.reward.AU)
	return v, nil
}

// Experiments implements api.Insights.
func (in *Insight) Experiments(ctx context.Context) ([]api.ExperimentView, error) {
	out := make([]api.ExperimentView, 0, len(in.exps))
	for _, e := range in.exps {
		v, err := in.experiment(ctx, e)
		if err != nil {
			return nil, err
		}
		out = append(out, *v)
	}
	return out, nil
}

func (in *Insight) experiment(ctx context.Context, e config.Experiment) (*api.ExperimentView, error) {
	outcomes, err := in.st.ArmOutcomes(ctx, e.Name)
	if err != nil {
		return nil, fmt.Errorf("experiment %q: %w", e.Name, err)
	}
	v := &api.ExperimentView{Name: e.Name, Assignment: e.Assignment, Markers: len(outcomes),
		PriorAlpha: float64(e.PriorAlpha), PriorBeta: float64(e.PriorBeta),
		Arms: analytics.Posterior(e.Arms, outcomes, float64(e.PriorAlpha), float64(e.PriorBeta))}
	if e.Assignment == "schedule" {
		v.Schedule = e.Schedule
	}
	return v, nil
}

// Assign implements api.Insights: Thompson sampling draws once from each
// arm's posterior; a schedule takes the next entry after the markers seen.
func (in *Insight) Assign(ctx context.Context, name string) (*api.Assignment, error) {
	i := slices.IndexFunc(in.exps, func(e config.Experiment) bool { return e.Name == name })
	if i < 0 {
		return nil, fmt.Errorf("%w: %s", api.ErrExperimentNotFound, name)
	}
	e := in.exps[i]
	v, err := in.experiment(ctx, e)
	if err != nil {
		return nil, err
	}
	a := &api.Assignment{Experiment: e.Name, Assignment: e.Assignment, Arms: v.Arms}
	if e.Assignment == "schedule" {
		a.Arm = analytics.ScheduleArm(e.Schedule, v.Markers)
	} else {
		in.mu.Lock()
		a.Arm = analytics.ThompsonPick(v.Arms, in.rng)
		in.mu.Unlock()
	}
	return a, nil
}

// Physiology implements api.Insights: every subject's state now, over all
// streams (a subject's heart is the same whichever stream shows them).
func (in *Insight) Physiology(ctx context.Context) (*api.PhysiologyView, error) {
	now := in.now()
	evs, err := in.st.Telemetry(ctx, model.TelemetryQuery{Kind: model.TelemetryPhysiology,
		From: now.Add(-subjectLookback), To: now.Add(time.Nanosecond)})
	if err != nil {
		return nil, err
	}
	v := &api.PhysiologyView{Subjects: []model.Physiology{}, Thresholds: api.PhysioThresholds{
		WindowS: in.physio.Window.Seconds(), StaleAfterS: in.physio.StaleAfter.Seconds(),
		AbsentAfterS: in.physio.AbsentAfter.Seconds(), MinIntervals: in.physio.MinIntervals}}
	for _, subject := range in.subjects(evs) {
		v.Subjects = append(v.Subjects, analytics.Physiology(subject, evs, now, in.physio))
	}
	if cm := in.an.CoModulation; cm != nil {
		c := in.coModulate(cm, evs, now)
		v.CoModulation = &c
	}
	return v, nil
}

// Sessions implements api.Insights.
func (in *Insight) Sessions(ctx context.Context, stream string) ([]model.Session, error) {
	return in.st.Sessions(ctx, stream)
}
