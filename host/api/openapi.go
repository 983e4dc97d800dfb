package api

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"sort"
)

// The OpenAPI 3 description of this API is files rather than generated so
// it reads and diffs as the document clients get; openapi_test.go keeps it
// in step with routeTable and the handlers' JSON. openapi.json holds the
// document's frame and the core routes; each file in openapi/ adds the paths
// and components of one concern (telemetry, experiments, live updates, ...)
// and is merged in at start-up, so concerns edit their own file.
//
//go:embed openapi.json openapi
var openAPIFiles embed.FS

// openAPIDoc is the merged document as served.
var openAPIDoc = mustMergeOpenAPI(openAPIFiles)

// mustMergeOpenAPI merges every openapi/*.json into openapi.json: their
// "paths" and each map under "components". A key defined twice is a
// programming error caught by every test run, so it panics.
func mustMergeOpenAPI(files fs.FS) []byte {
	doc, err := mergeOpenAPI(files)
	if err != nil {
		panic(err)
	}
	return doc
}

func mergeOpenAPI(files fs.FS) ([]byte, error) {
	var base map[string]any
	if err := readJSON(files, "openapi.json", &base); err != nil {
		return nil, err
	}
	parts, err := fs.Glob(files, "openapi/*.json")
	if err != nil {
		return nil, err
	}
	sort.Strings(parts)
	for _, name := range parts {
		var part map[string]any
		if err := readJSON(files, name, &part); err != nil {
			return nil, err
		}
		for key, v := range part {
			switch key {
			case "paths":
				if err := mergeKeys(base, "paths", v, name); err != nil {
					return nil, err
				}
			case "components":
				comps, _ := v.(map[string]any)
				baseComps, _ := base["components"].(map[string]any)
				if baseComps == nil {
					baseComps = map[string]any{}
					base["components"] = baseComps
				}
				for kind, defs := range comps {
					if err := mergeKeys(baseComps, kind, defs, name); err != nil {
						return nil, err
					}
				}
			case "tags":
				tags, _ := v.([]any)
				baseTags, _ := base["tags"].([]any)
				base["tags"] = append(baseTags, tags...)
			default:
				return nil, fmt.Errorf("openapi: %s: only paths, components and tags may be added, not %q", name, key)
			}
		}
	}
	return json.MarshalIndent(base, "", "  ")
}

// mergeKeys adds the members of add (an object) to dst[key].
func mergeKeys(dst map[string]any, key string, add any, file string) error {
	m, ok := add.(map[string]any)
	if !ok {
		return fmt.Errorf("openapi: %s: %s must be an object", file, key)
	}
	into, _ := dst[key].(map[string]any)
	if into == nil {
		into = map[string]any{}
		dst[key] = into
	}
	for k, v := range m {
		if _, dup := into[k]; dup {
			return fmt.Errorf("openapi: %s: %s %q is defined twice", file, key, k)
		}
		into[k] = v
	}
	return nil
}

func readJSON(files fs.FS, name string, v any) error {
	b, err := fs.ReadFile(files, name)
	if err != nil {
		return fmt.Errorf("openapi: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("openapi: %s: %w", name, err)
	}
	return nil
}

// getOpenAPI serves the OpenAPI document. Like health it needs no token: a
// client can discover the API before it has one.
func (s *Server) getOpenAPI(w http.ResponseWriter, r *http.Request) {
	setHeaders(w)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(openAPIDoc)
}
