package api

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/lsie-mlf/lsie/host/model"
)

// Objects: what plugins saw (sdk.Object), one record per object, asked for
// by label, plugin, track and wall-clock time; a segment's come with it
// through GET /api/v1/segments/{stream}/{index}?include=objects.

// Limits of GET /api/v1/streams/{id}/objects.
const (
	defaultObjectLimit = 1000
	maxObjectLimit     = 10000
)

func init() {
	extraRoutes = append(extraRoutes, func(s *Server) []route {
		return []route{{"/api/v1/streams/{id}/objects", methods{http.MethodGet: s.getObjects}, authToken}}
	})
}

type objectsResponse struct {
	StreamID string `json:"stream_id"`
	// Objects are ordered by time, then as stored.
	Objects []model.ObjectRecord `json:"objects"`
}

// getObjects lists a stream's stored objects.
func (s *Server) getObjects(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	q := r.URL.Query()
	oq, err := objectQuery(id, q)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	objs, err := s.st.Objects(r.Context(), oq)
	if !s.storeOK(w, r, id, err) {
		return
	}
	s.writeJSON(w, http.StatusOK, objectsResponse{StreamID: id, Objects: objs})
}

// objectQuery reads label, plugin, track, from, to and limit.
func objectQuery(id string, q url.Values) (model.ObjectQuery, error) {
	oq := model.ObjectQuery{StreamID: id}
	for _, p := range []struct {
		name string
		dst  *string
	}{{"label", &oq.Label}, {"plugin", &oq.Plugin}} {
		if vals, ok := q[p.name]; ok {
			if len(vals) != 1 || vals[0] == "" {
				return oq, fmt.Errorf("query parameter %q: want one non-empty value", p.name)
			}
			*p.dst = vals[0]
		}
	}
	track, err := queryInt(q, "track", 0, 1, 1<<62, "must be a track id (an integer from 1)")
	if err != nil {
		return oq, err
	}
	oq.TrackID = track
	if err := queryTimes(q, &oq.From, &oq.To); err != nil {
		return oq, err
	}
	limit, err := queryInt(q, "limit", defaultObjectLimit, 1, maxObjectLimit,
		fmt.Sprintf("must be an integer from 1 to %d", maxObjectLimit))
	if err != nil {
		return oq, err
	}
	oq.Limit = int(limit)
	return oq, nil
}

// queryInclude reads GET segment's include: a comma-separated list of what
// to add to the segment; only "objects" exists.
func queryInclude(q url.Values) (objects bool, err error) {
	for _, v := range q["include"] {
		for _, part := range strings.Split(v, ",") {
			switch part {
			case "objects":
				objects = true
			default:
				return false, fmt.Errorf("query parameter include: %q is not something a segment can include (objects)", part)
			}
		}
	}
	return objects, nil
}
