package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/store"
)

// A stream's runs and gaps: what each start of a stream stored and how it
// ended, and the recorded holes in its results (a host that died without
// closing a run, ...). Together with the run_id of each segment they say
// which run a result belongs to and where nothing was stored.

func init() {
	extraRoutes = append(extraRoutes, func(s *Server) []route {
		return []route{
			{"/api/v1/streams/{id}/runs", methods{http.MethodGet: s.getRuns}, authToken},
			{"/api/v1/streams/{id}/gaps", methods{http.MethodGet: s.getGaps}, authToken},
		}
	})
}

type runsResponse struct {
	StreamID string `json:"stream_id"`
	// Runs are newest first.
	Runs []model.StreamRun `json:"runs"`
}

type gapsResponse struct {
	StreamID string `json:"stream_id"`
	// Gaps are ordered by WallFrom, then as recorded.
	Gaps []model.Gap `json:"gaps"`
}

// getRuns lists a stream's runs, newest first, with what each stored.
func (s *Server) getRuns(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	runs, err := s.st.Runs(r.Context(), id)
	if !s.storeOK(w, r, id, err) {
		return
	}
	if runs == nil {
		runs = []model.StreamRun{}
	}
	s.writeJSON(w, http.StatusOK, runsResponse{StreamID: id, Runs: runs})
}

// getGaps lists a stream's recorded gaps, oldest first.
func (s *Server) getGaps(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	gaps, err := s.st.Gaps(r.Context(), id)
	if !s.storeOK(w, r, id, err) {
		return
	}
	if gaps == nil {
		gaps = []model.Gap{}
	}
	s.writeJSON(w, http.StatusOK, gapsResponse{StreamID: id, Gaps: gaps})
}

// storeOK answers a failed read of stream id's rows (404 for an unknown
// stream, else 500) and reports whether err was nil.
func (s *Server) storeOK(w http.ResponseWriter, r *http.Request, id string, err error) bool {
	switch {
	case err == nil:
		return true
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("stream %q not found", id))
	default:
		s.internalError(w, r, err)
	}
	return false
}
