package api

import (
	_ "embed"
	"net/http"
)

// openAPIDoc is the OpenAPI 3 description of this API. It is a file rather
// than generated so it reads and diffs as the document clients get;
// openapi_test.go keeps it in step with routeTable and the handlers' JSON.
//
//go:embed openapi.json
var openAPIDoc []byte

// getOpenAPI serves the OpenAPI document. It is a GET, so like health it
// needs no token: a client can discover the API before it has one.
func (s *Server) getOpenAPI(w http.ResponseWriter, r *http.Request) {
	setHeaders(w)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(openAPIDoc)
}
