package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/lsie-mlf/lsie/host/analytics"
	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/source"
)

func init() {
	extraRoutes = append(extraRoutes, func(s *Server) []route {
		return []route{
			{"/api/v1/operator/overview", methods{http.MethodGet: s.getOverview}, authToken},
			{"/api/v1/operator/live/{stream}", methods{http.MethodGet: s.getLive}, authToken},
			{"/api/v1/operator/experiments", methods{http.MethodGet: s.getOperatorExperiments}, authToken},
			{"/api/v1/operator/physiology", methods{http.MethodGet: s.getPhysiology}, authToken},
			{"/api/v1/operator/health", methods{http.MethodGet: s.getOperatorHealth}, authToken},
			{"/api/v1/operator/sessions", methods{http.MethodGet: s.getSessions}, authToken},
			{"/api/v1/experiments/{name}/assign", methods{http.MethodPost: s.postAssign}, authToken},
		}
	})
}

// Insights computes what the operator pages and experiment routes show:
// views over the store, the live history and the analytics. The host
// implements it (host/insight).
type Insights interface {
	Overview(ctx context.Context) (*Overview, error)
	// Live returns ErrStreamNotFound (wrapped) for an unknown stream.
	Live(ctx context.Context, stream string) (*LiveView, error)
	Experiments(ctx context.Context) ([]ExperimentView, error)
	// Assign picks the arm to show next; ErrExperimentNotFound (wrapped)
	// for an unknown experiment.
	Assign(ctx context.Context, experiment string) (*Assignment, error)
	Physiology(ctx context.Context) (*PhysiologyView, error)
	Sessions(ctx context.Context, stream string) ([]model.Session, error)
}

// ErrExperimentNotFound: no experiment of that name is configured.
var ErrExperimentNotFound = errors.New("experiment not found")

// SegmentSummary is a closed segment in a line.
type SegmentSummary struct {
	Index         int64               `json:"index"`
	Status        model.SegmentStatus `json:"status"`
	Reasons       []string            `json:"reasons,omitempty"`
	WallStart     time.Time           `json:"wall_start"`
	WallEnd       time.Time           `json:"wall_end"`
	FramesSeen    int                 `json:"frames_seen"`
	FramesDropped int                 `json:"frames_dropped"`
	Reward        *float64            `json:"reward"`
}

// Summarize makes a segment's summary.
func Summarize(seg model.Segment) SegmentSummary {
	s := SegmentSummary{Index: seg.Index, Status: seg.Status, Reasons: seg.Reasons, WallStart: seg.WallStart,
		WallEnd: seg.WallEnd, FramesSeen: seg.FramesSeen, FramesDropped: seg.FramesDropped}
	if seg.Analytics != nil {
		s.Reward = seg.Analytics.Reward
	}
	return s
}

// Overview is the Overview page: the host's health and every stream.
type Overview struct {
	Host    model.HostHealth `json:"host"`
	Streams []StreamOverview `json:"streams"`
}

// StreamOverview is one stream on the Overview page.
type StreamOverview struct {
	ID          string          `json:"id"`
	Source      string          `json:"source"`
	Health      model.Health    `json:"health"`
	Hint        string          `json:"hint,omitempty"`
	Plugins     []string        `json:"plugins"`
	Segments    int             `json:"segments"`
	LastSegment *SegmentSummary `json:"last_segment"`
	// FramesPerSecond is the analysis frame rate over the last segment.
	FramesPerSecond float64 `json:"frames_per_s"`
}

// LiveView is the Live Session page's state when it opens; WebSocket
// messages update it from there.
type LiveView struct {
	Stream      string                  `json:"stream"`
	Health      model.Health            `json:"health"`
	LastSegment *SegmentSummary         `json:"last_segment"`
	Analytics   *model.SegmentAnalytics `json:"analytics"`
	Transcript  []TranscriptLine        `json:"transcript"`
	// Series holds recent plot points, [unix ms, value] pairs: under the
	// configured AU's name an object of faces ("face1": [...]), and
	// "f0_hz" and "loudness" lists.
	Series map[string]any `json:"series"`
}

// TranscriptLine is one utterance of the live transcript.
type TranscriptLine struct {
	PTS   time.Duration `json:"pts_ns"`
	Text  string        `json:"text"`
	Final bool          `json:"final"`
}

// ExperimentView is one experiment with its arms' posteriors.
type ExperimentView struct {
	Name       string                 `json:"name"`
	Assignment string                 `json:"assignment"`
	Arms       []analytics.ArmSummary `json:"arms"`
	// Markers counts the experiment's stimulus markers placed in segments.
	Markers    int      `json:"markers"`
	Schedule   []string `json:"schedule,omitempty"`
	PriorAlpha float64  `json:"prior_alpha"`
	PriorBeta  float64  `json:"prior_beta"`
}

// Assignment is the arm chosen for the next stimulus.
type Assignment struct {
	Experiment string                 `json:"experiment"`
	Arm        string                 `json:"arm"`
	Assignment string                 `json:"assignment"`
	Arms       []analytics.ArmSummary `json:"arms"`
}

// PhysiologyView is the Physiology page: every subject's state now.
type PhysiologyView struct {
	Subjects     []model.Physiology  `json:"subjects"`
	CoModulation *model.CoModulation `json:"comodulation"`
	Thresholds   PhysioThresholds    `json:"thresholds"`
}

// PhysioThresholds are the configured physiology thresholds, in seconds.
type PhysioThresholds struct {
	WindowS      float64 `json:"window_s"`
	StaleAfterS  float64 `json:"stale_after_s"`
	AbsentAfterS float64 `json:"absent_after_s"`
	MinIntervals int     `json:"min_intervals"`
}

type experimentsResponse struct {
	Experiments []ExperimentView `json:"experiments"`
}

type sessionsResponse struct {
	Sessions []model.Session `json:"sessions"`
}

type operatorHealth struct {
	Host model.HostHealth `json:"host"`
}

// insights answers 503 when the server has no Insights.
func (s *Server) insights(w http.ResponseWriter) Insights {
	if s.cfg.Insights == nil {
		writeError(w, http.StatusServiceUnavailable, codeUnavailable, "operator views are not available in this process")
	}
	return s.cfg.Insights
}

func (s *Server) getOverview(w http.ResponseWriter, r *http.Request) {
	in := s.insights(w)
	if in == nil {
		return
	}
	o, err := in.Overview(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	for i := range o.Streams {
		// Stored redacted; rows a host stored before query parameters
		// were redacted still hold them.
		o.Streams[i].Source = source.Redact(o.Streams[i].Source)
	}
	s.writeJSON(w, http.StatusOK, o)
}

func (s *Server) getLive(w http.ResponseWriter, r *http.Request) {
	in := s.insights(w)
	if in == nil {
		return
	}
	id := r.PathValue("stream")
	v, err := in.Live(r.Context(), id)
	if errors.Is(err, ErrStreamNotFound) {
		writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("stream %q not found", id))
		return
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, v)
}

func (s *Server) getOperatorExperiments(w http.ResponseWriter, r *http.Request) {
	in := s.insights(w)
	if in == nil {
		return
	}
	ex, err := in.Experiments(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if ex == nil {
		ex = []ExperimentView{}
	}
	s.writeJSON(w, http.StatusOK, experimentsResponse{Experiments: ex})
}

func (s *Server) postAssign(w http.ResponseWriter, r *http.Request) {
	in := s.insights(w)
	if in == nil {
		return
	}
	name := r.PathValue("name")
	a, err := in.Assign(r.Context(), name)
	if errors.Is(err, ErrExperimentNotFound) {
		writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("experiment %q is not configured", name))
		return
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, a)
}

func (s *Server) getPhysiology(w http.ResponseWriter, r *http.Request) {
	in := s.insights(w)
	if in == nil {
		return
	}
	v, err := in.Physiology(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, v)
}

func (s *Server) getOperatorHealth(w http.ResponseWriter, r *http.Request) {
	if s.hs == nil {
		writeError(w, http.StatusServiceUnavailable, codeUnavailable, "no live health source in this process")
		return
	}
	h := s.hs.Health()
	if h.Components == nil {
		h.Components = []model.ComponentHealth{}
	}
	s.writeJSON(w, http.StatusOK, operatorHealth{Host: h})
}

func (s *Server) getSessions(w http.ResponseWriter, r *http.Request) {
	in := s.insights(w)
	if in == nil {
		return
	}
	ss, err := in.Sessions(r.Context(), r.URL.Query().Get("stream"))
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if ss == nil {
		ss = []model.Session{}
	}
	s.writeJSON(w, http.StatusOK, sessionsResponse{Sessions: ss})
}
