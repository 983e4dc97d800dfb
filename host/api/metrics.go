package api

import "net/http"

// GET /metrics serves Config.Metrics, the host's Prometheus metrics. It
// is public like health, as scrapers send no bearer token; the guard still
// applies, so a scraper on another machine must reach the API by a name in
// api.allowed_hosts. The metrics carry stream and plugin names and counts,
// never segment content.
func init() {
	extraRoutes = append(extraRoutes, func(s *Server) []route {
		return []route{{"/metrics", methods{http.MethodGet: s.getMetrics}, authPublic}}
	})
}

func (s *Server) getMetrics(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Metrics == nil {
		writeError(w, http.StatusServiceUnavailable, codeUnavailable, "metrics are not available in this process")
		return
	}
	s.cfg.Metrics.ServeHTTP(w, r)
}
