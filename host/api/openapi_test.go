package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/source"
)

// The tests here keep openapi.json honest: its paths and methods are
// routeTable's, its $refs resolve, and what the handlers write validates
// against the schemas it documents for that route and status.

// operations are the OpenAPI path item keys that name an operation.
var operations = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func loadOpenAPI(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	return doc
}

// obj returns v[key] as an object, or nil.
func obj(v any, key string) map[string]any {
	m, _ := v.(map[string]any)
	o, _ := m[key].(map[string]any)
	return o
}

// resolvePointer resolves a local $ref ("#/components/schemas/X").
func resolvePointer(doc map[string]any, ref string) (any, error) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, fmt.Errorf("$ref %q is not local", ref)
	}
	var cur any = doc
	for _, tok := range strings.Split(ref[2:], "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("$ref %q: %q is not inside an object", ref, tok)
		}
		if cur, ok = m[tok]; !ok {
			return nil, fmt.Errorf("$ref %q: no %q", ref, tok)
		}
	}
	return cur, nil
}

// walkJSON calls f with every object in v and its location.
func walkJSON(v any, at string, f func(m map[string]any, at string)) {
	switch v := v.(type) {
	case map[string]any:
		f(v, at)
		for k, e := range v {
			walkJSON(e, at+"/"+k, f)
		}
	case []any:
		for i, e := range v {
			walkJSON(e, at+"/"+strconv.Itoa(i), f)
		}
	}
}

// deref follows $ref until it reaches an object without one.
func deref(t *testing.T, doc, m map[string]any) map[string]any {
	t.Helper()
	for range 10 {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		v, err := resolvePointer(doc, ref)
		if err != nil {
			t.Fatal(err)
		}
		if m, ok = v.(map[string]any); !ok {
			t.Fatalf("$ref %q is not an object", ref)
		}
	}
	t.Fatalf("$ref chain too long at %v", m)
	return nil
}

func TestOpenAPIDocument(t *testing.T) {
	doc := loadOpenAPI(t)
	if doc["openapi"] != "3.0.3" {
		t.Errorf("openapi = %v, want 3.0.3", doc["openapi"])
	}
	for _, k := range []string{"title", "version"} {
		if s, _ := obj(doc, "info")[k].(string); s == "" {
			t.Errorf("info.%s missing", k)
		}
	}
	used := map[string]bool{}
	walkJSON(doc, "#", func(m map[string]any, at string) {
		ref, ok := m["$ref"]
		if !ok {
			return
		}
		s, _ := ref.(string)
		if _, err := resolvePointer(doc, s); err != nil {
			t.Errorf("%s: %v", at, err)
		}
		used[s] = true
	})
	// An unreferenced component is stale. MethodNotAllowed has no
	// operation to hang on (it answers the methods a path lacks); the info
	// description points to it.
	for _, kind := range []string{"schemas", "responses"} {
		for name := range obj(obj(doc, "components"), kind) {
			ref := "#/components/" + kind + "/" + name
			if !used[ref] && ref != "#/components/responses/MethodNotAllowed" {
				t.Errorf("%s is never referenced", ref)
			}
		}
	}
	schemes := obj(obj(doc, "components"), "securitySchemes")
	ids := map[string]string{}
	for path, item := range obj(doc, "paths") {
		for _, method := range operations {
			op := obj(item, method)
			if op == nil {
				continue
			}
			where := strings.ToUpper(method) + " " + path
			id, _ := op["operationId"].(string)
			if id == "" {
				t.Errorf("%s: no operationId", where)
			} else if prev, dup := ids[id]; dup {
				t.Errorf("%s: operationId %q also on %s", where, id, prev)
			}
			ids[id] = where
			if len(obj(op, "responses")) == 0 {
				t.Errorf("%s: no responses", where)
			}
			sec, _ := op["security"].([]any)
			for _, req := range sec {
				for name := range req.(map[string]any) {
					if schemes[name] == nil {
						t.Errorf("%s: security scheme %q not in components", where, name)
					}
				}
			}
		}
	}
}

// pathParams returns the {name} wildcards of a ServeMux pattern, which
// OpenAPI path templates share.
func pathParams(pattern string) []string {
	var names []string
	for _, seg := range strings.Split(pattern, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			names = append(names, strings.TrimSuffix(seg[1:], "}"))
		}
	}
	return names
}

// TestOpenAPIRoutes walks the router: every (path, method) it serves is
// documented and every documented one is served, with the path parameters
// and the auth the guard applies.
func TestOpenAPIRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	s := New(Config{Token: "tok"}, newTestStore(t), liveHealth, nil)
	table := s.routeTable()
	paths := obj(doc, "paths")
	served := map[string]methods{}
	auth := map[string]authMode{}
	mux := s.routes()
	for _, rt := range table {
		served[rt.pattern] = rt.methods
		auth[rt.pattern] = rt.auth
		// routes must register exactly the table: a request for the
		// pattern (wildcards filled) lands on it.
		target := rt.pattern
		for _, p := range pathParams(rt.pattern) {
			target = strings.Replace(target, "{"+p+"}", "1", 1)
		}
		if _, got := mux.Handler(httptest.NewRequest(http.MethodGet, target, nil)); got != rt.pattern {
			t.Errorf("%s routes to %q, want %q", target, got, rt.pattern)
		}
		item := obj(paths, rt.pattern)
		if item == nil {
			t.Errorf("path %s is served but not documented", rt.pattern)
			continue
		}
		for method := range rt.methods {
			if obj(item, strings.ToLower(method)) == nil {
				t.Errorf("%s %s is served but not documented", method, rt.pattern)
			}
		}
	}
	for path, item := range paths {
		m, ok := served[path]
		if !ok {
			t.Errorf("path %s is documented but not served", path)
			continue
		}
		for _, method := range operations {
			op := obj(item, method)
			if op == nil {
				continue
			}
			where := strings.ToUpper(method) + " " + path
			if m[strings.ToUpper(method)] == nil {
				t.Errorf("%s is documented but not served", where)
			}
			checkPathParams(t, doc, where, path, item.(map[string]any), op)
			// A token route documents bearerAuth and its 401; an HMAC
			// route its own scheme and 401; the others no security.
			sec := fmt.Sprint(op["security"])
			_, hasSec := op["security"]
			_, has401 := obj(op, "responses")["401"]
			switch auth[path] {
			case authToken:
				if !strings.Contains(sec, "bearerAuth") || !has401 {
					t.Errorf("%s: needs the token: document security bearerAuth and 401 (have %v, 401 %v)", where, sec, has401)
				}
			case authHMAC:
				if !strings.Contains(sec, "webhookSignature") || !has401 {
					t.Errorf("%s: signed by HMAC: document security webhookSignature and 401 (have %v, 401 %v)", where, sec, has401)
				}
			default:
				if hasSec {
					t.Errorf("%s: takes no token; it should not list security", where)
				}
			}
			// The guard answers these on every route.
			for _, code := range []string{"403", "421"} {
				if _, ok := obj(op, "responses")[code]; !ok {
					t.Errorf("%s: %s not documented", where, code)
				}
			}
		}
	}
}

// checkPathParams checks that the path parameters documented for an
// operation (on its path item or itself) are the pattern's wildcards.
func checkPathParams(t *testing.T, doc map[string]any, where, pattern string, item, op map[string]any) {
	t.Helper()
	var got []string
	for _, list := range []any{item["parameters"], op["parameters"]} {
		ps, _ := list.([]any)
		for _, p := range ps {
			p := deref(t, doc, p.(map[string]any))
			if p["in"] != "path" {
				continue
			}
			if p["required"] != true {
				t.Errorf("%s: path parameter %v must be required", where, p["name"])
			}
			got = append(got, fmt.Sprint(p["name"]))
		}
	}
	want := pathParams(pattern)
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s: documented path parameters %v, pattern has %v", where, got, want)
	}
}

func TestOpenAPIServed(t *testing.T) {
	// With a token configured: the document is read without one.
	h := New(Config{Token: "tok"}, newTestStore(t), liveHealth, nil).Handler()
	rec := serve(h, http.MethodGet, "/api/v1/openapi.json")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	checkHeaders(t, rec)
	if !bytes.Equal(rec.Body.Bytes(), openAPIDoc) {
		t.Errorf("served document differs from openapi.json")
	}
}

// exchange is one request to the API and the status it must get.
type exchange struct {
	name    string
	h       *Server
	method  string
	target  string
	headers map[string]string
	body    string
	status  int
}

// extraExchanges add the exchanges of routes kept in their own files, each
// from an init function in that file's test; they get the token of the
// servers they build. extraUnreachable adds documented responses that only
// a fault the fakes cannot make gives ("METHOD /path CODE").
var (
	extraExchanges   []func(t *testing.T, token string) []exchange
	extraUnreachable []string
)

// TestOpenAPIResponses sends requests that reach every documented status
// of every route and validates each response body against the schema the
// document gives for that route, method and status; request bodies that
// succeed are validated against the documented request schema too.
func TestOpenAPIResponses(t *testing.T) {
	doc := loadOpenAPI(t)
	st := newTestStore(t)
	fm := &fakeManager{fail: map[string]error{
		"nover": fmt.Errorf("%w: no version matches", ErrUnrunnable),
		"boom":  errors.New("disk full"),
	}}
	const token = "tok"
	full := New(Config{Token: token}, st, liveHealth, nil)
	full.SetStreams(fm, t.TempDir(), testPolicy(t))
	down := New(Config{}, st, fixedHealth{Status: model.HealthError, Version: "0.1.0-test"}, nil)
	noHealth := New(Config{}, st, nil, nil)
	broken := New(Config{}, failingStore{st}, liveHealth, nil)
	unmanaged := New(Config{}, st, liveHealth, nil)
	failing := New(Config{}, st, liveHealth, nil)
	failing.SetStreams(failingCommands{&fakeManager{}}, t.TempDir(), nil)
	refusing := New(Config{}, st, liveHealth, nil)
	refusing.SetStreams(&fakeManager{fail: map[string]error{"cam9": fmt.Errorf("policy: %w", source.ErrNotAllowed)}},
		t.TempDir(), nil)

	auth := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + token}
	const cmdPath = "/api/v1/streams/cam/plugins/au/commands"
	ex := []exchange{
		{"health", full, "GET", "/api/v1/health", nil, "", 200},
		{"health error", down, "GET", "/api/v1/health", nil, "", 503},
		{"health no source", noHealth, "GET", "/api/v1/health", nil, "", 503},
		{"openapi", full, "GET", "/api/v1/openapi.json", nil, "", 200},
		{"streams", full, "GET", "/api/v1/streams", auth, "", 200},
		{"streams no health", noHealth, "GET", "/api/v1/streams", nil, "", 200},
		{"streams broken", broken, "GET", "/api/v1/streams", nil, "", 500},
		{"add stream", full, "POST", "/api/v1/streams", auth, `{"id":"cam3","source":"test://ball","realtime":false,"loop":true,
			"video":{"fps":10,"max_width":320},"plugins":[{"name":"visual","window":4,"event_bound":8,"version":"~> 1.0",
			"attributes":{"threshold":0.5,"label":"faces","on":true,"list":[1]}},{"name":"acoustic"}]}`, 201},
		{"add minimal stream", full, "POST", "/api/v1/streams", auth, `{"id":"cam4","source":"test://ball"}`, 201},
		{"add stream twice", full, "POST", "/api/v1/streams", auth, `{"id":"cam4","source":"test://ball"}`, 409},
		{"add invalid stream", full, "POST", "/api/v1/streams", auth, `{"id":"cam 2","source":"test://ball","video":{"fps":0}}`, 400},
		{"add stream bad JSON", full, "POST", "/api/v1/streams", auth, `{"id":`, 400},
		{"add stream forbidden source", full, "POST", "/api/v1/streams", auth, `{"id":"cam5","source":"file:///dev/null"}`, 403},
		{"add stream refused by host", refusing, "POST", "/api/v1/streams", jsonHeaders, `{"id":"cam9","source":"test://ball"}`, 403},
		{"add stream no token", full, "POST", "/api/v1/streams", jsonHeaders, `{"id":"cam6","source":"test://ball"}`, 401},
		{"add stream too large", full, "POST", "/api/v1/streams", auth, strings.Repeat(" ", maxStreamBody+1), 413},
		{"add stream as text", full, "POST", "/api/v1/streams", map[string]string{"Authorization": "Bearer " + token, "Content-Type": "text/plain"}, `{}`, 415},
		{"add unrunnable stream", full, "POST", "/api/v1/streams", auth, `{"id":"nover","source":"test://ball"}`, 422},
		{"add stream host fails", full, "POST", "/api/v1/streams", auth, `{"id":"boom","source":"test://ball"}`, 500},
		{"add stream unmanaged", unmanaged, "POST", "/api/v1/streams", jsonHeaders, `{}`, 501},
		{"remove stream", full, "DELETE", "/api/v1/streams/cam3", auth, "", 204},
		{"remove unknown stream", full, "DELETE", "/api/v1/streams/cam3", auth, "", 404},
		{"remove stream no token", full, "DELETE", "/api/v1/streams/cam4", nil, "", 401},
		{"remove stream host fails", full, "DELETE", "/api/v1/streams/boom", auth, "", 500},
		{"remove stream unmanaged", unmanaged, "DELETE", "/api/v1/streams/cam4", nil, "", 501},
		{"command", full, "POST", cmdPath, auth, `{"command":"baseline","args":{"mode":"now"}}`, 200},
		{"command no args", full, "POST", cmdPath, auth, `{"command":"baseline"}`, 200},
		{"command refused", full, "POST", cmdPath, auth, `{"command":"dance"}`, 400},
		{"command unknown field", full, "POST", cmdPath, auth, `{"command":"baseline","x":1}`, 400},
		{"command no token", full, "POST", cmdPath, jsonHeaders, `{"command":"baseline"}`, 401},
		{"command unknown plugin", full, "POST", "/api/v1/streams/cam/plugins/nope/commands", auth, `{"command":"baseline"}`, 404},
		{"command too large", full, "POST", cmdPath, auth, strings.Repeat(" ", maxCommandBody+1), 413},
		{"command no content type", full, "POST", cmdPath, map[string]string{"Authorization": "Bearer " + token}, `{}`, 415},
		{"command unsupported", full, "POST", "/api/v1/streams/cam/plugins/visual/commands", auth, `{"command":"baseline"}`, 501},
		{"command unmanaged", unmanaged, "POST", cmdPath, jsonHeaders, `{"command":"baseline"}`, 501},
		{"command host fails", failing, "POST", cmdPath, jsonHeaders, `{"command":"baseline"}`, 500},
		{"command plugin down", full, "POST", "/api/v1/streams/cam/plugins/down/commands", auth, `{"command":"baseline"}`, 503},
		{"segments", full, "GET", "/api/v1/streams/cam1/segments", auth, "", 200},
		{"segments page", full, "GET", "/api/v1/streams/cam1/segments?since=1&limit=1", auth, "", 200},
		{"segments past end", full, "GET", "/api/v1/streams/cam1/segments?since=7&limit=1000", auth, "", 200},
		{"segments none", full, "GET", "/api/v1/streams/cam2/segments", auth, "", 200},
		{"segments bad limit", full, "GET", "/api/v1/streams/cam1/segments?limit=1001", auth, "", 400},
		{"segments unknown stream", full, "GET", "/api/v1/streams/nope/segments", auth, "", 404},
		{"segments no token", full, "GET", "/api/v1/streams/cam1/segments", nil, "", 401},
		{"segment no token", full, "GET", "/api/v1/segments/cam1/0", nil, "", 401},
		{"streams no token", full, "GET", "/api/v1/streams", nil, "", 401},
		{"segments broken", broken, "GET", "/api/v1/streams/cam1/segments", nil, "", 500},
		{"segment", full, "GET", "/api/v1/segments/cam1/2", auth, "", 200},
		{"segment first", full, "GET", "/api/v1/segments/cam1/0", auth, "", 200},
		{"segment bad index", full, "GET", "/api/v1/segments/cam1/x", auth, "", 400},
		{"segment unknown", full, "GET", "/api/v1/segments/cam1/9", auth, "", 404},
		{"segment broken", broken, "GET", "/api/v1/segments/cam1/0", nil, "", 500},
	}
	for _, more := range extraExchanges {
		ex = append(ex, more(t, token)...)
	}
	// The guard's refusals, on every route and method.
	for _, rt := range full.routeTable() {
		target := rt.pattern
		for _, p := range pathParams(rt.pattern) {
			target = strings.Replace(target, "{"+p+"}", "cam1", 1)
		}
		for method := range rt.methods {
			ex = append(ex,
				exchange{"wrong host", full, method, target, map[string]string{"Host": "evil.example"}, "", 421},
				exchange{"cross-site", full, method, target, map[string]string{"Origin": "http://evil.example"}, "", 403})
		}
	}

	// covered records the documented (METHOD path, status) pairs reached.
	covered := map[string]bool{}
	for _, e := range ex {
		host := "localhost"
		headers := map[string]string{}
		for k, v := range e.headers {
			if k == "Host" {
				host = v
			} else {
				headers[k] = v
			}
		}
		rec := request(e.h.Handler(), e.method, e.target, host, headers, e.body)
		where := e.method + " " + e.target + " (" + e.name + ")"
		if rec.Code != e.status {
			t.Errorf("%s: status %d, want %d: %s", where, rec.Code, e.status, rec.Body)
			continue
		}
		_, pattern := e.h.routes().Handler(httptest.NewRequest(e.method, e.target, nil))
		op := obj(obj(obj(doc, "paths"), pattern), strings.ToLower(e.method))
		if op == nil {
			t.Errorf("%s: %s %s not documented", where, e.method, pattern)
			continue
		}
		resp, ok := obj(op, "responses")[strconv.Itoa(e.status)].(map[string]any)
		if !ok {
			t.Errorf("%s: status %d not documented for %s %s", where, e.status, e.method, pattern)
			continue
		}
		covered[e.method+" "+pattern+" "+strconv.Itoa(e.status)] = true
		checkResponse(t, doc, where, deref(t, doc, resp), rec)
		if e.status < 300 && e.body != "" {
			rb := deref(t, doc, obj(op, "requestBody"))
			schema := obj(obj(obj(rb, "content"), "application/json"), "schema")
			if err := validateJSON(doc, schema, []byte(e.body)); err != nil {
				t.Errorf("%s: request body does not match the documented schema: %v", where, err)
			}
		}
	}

	// Every documented status was reached, but those only a fault the
	// fakes cannot make gives.
	unreachable := map[string]bool{
		"GET /api/v1/health 500":       true, // only a handler panic
		"GET /api/v1/openapi.json 500": true, // only a handler panic
	}
	for _, k := range extraUnreachable {
		unreachable[k] = true
	}
	for path, item := range obj(doc, "paths") {
		for _, method := range operations {
			for code := range obj(obj(item, method), "responses") {
				key := strings.ToUpper(method) + " " + path + " " + code
				if !covered[key] && !unreachable[key] {
					t.Errorf("documented response %s is not exercised", key)
				}
			}
		}
	}
}

// failingCommands fails every plugin command as a broken pipe would.
type failingCommands struct{ *fakeManager }

func (failingCommands) PluginCommand(context.Context, string, string, string, []byte) ([]byte, error) {
	return nil, errors.New("broken pipe")
}

// TestOpenAPIMethodNotAllowed checks the 405 a path answers for a method it
// does not take against components/responses/MethodNotAllowed.
func TestOpenAPIMethodNotAllowed(t *testing.T) {
	doc := loadOpenAPI(t)
	resp := obj(obj(obj(doc, "components"), "responses"), "MethodNotAllowed")
	h := newTestServer(t, liveHealth)
	for _, target := range []string{"/api/v1/streams", "/api/v1/streams/cam1", "/api/v1/openapi.json"} {
		rec := serve(h.Handler(), http.MethodPut, target)
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("PUT %s: status %d", target, rec.Code)
			continue
		}
		checkResponse(t, doc, "PUT "+target, resp, rec)
	}
	// An unknown path's 404 has the Error body too.
	rec := serve(h.Handler(), http.MethodGet, "/api/v2/nothing")
	if err := validateJSON(doc, map[string]any{"$ref": "#/components/schemas/Error"}, rec.Body.Bytes()); err != nil {
		t.Errorf("404 body: %v", err)
	}
}

// checkResponse checks a recorded response against a documented one: its
// body against the JSON schema (or empty when none is documented) and the
// documented headers present.
func checkResponse(t *testing.T, doc map[string]any, where string, resp map[string]any, rec *httptest.ResponseRecorder) {
	t.Helper()
	for name := range obj(resp, "headers") {
		if rec.Header().Get(name) == "" {
			t.Errorf("%s: documented header %s missing", where, name)
		}
	}
	content := obj(resp, "content")
	if content == nil {
		if rec.Body.Len() != 0 {
			t.Errorf("%s: body %q where none is documented", where, rec.Body)
		}
		return
	}
	ct := rec.Header().Get("Content-Type")
	media := obj(content, ct)
	if media == nil {
		t.Errorf("%s: Content-Type %q not documented", where, ct)
		return
	}
	if err := validateJSON(doc, obj(media, "schema"), rec.Body.Bytes()); err != nil {
		t.Errorf("%s: %v\nbody: %s", where, err, rec.Body)
	}
}

// validateJSON checks a JSON document against an OpenAPI schema.
func validateJSON(doc, schema map[string]any, data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // integers stay exact
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("not JSON: %v", err)
	}
	return validate(doc, schema, v, "$")
}

// validate is a small checker for the subset of OpenAPI 3.0 schemas the
// document uses: $ref, oneOf, type, nullable, enum, format (int64,
// date-time), minimum, maximum, minLength, pattern, properties, required,
// items and additionalProperties. Unlike JSON Schema, an object schema
// without additionalProperties allows no properties it does not list: a
// field the handlers write but the document lacks is an error.
func validate(doc, schema map[string]any, v any, at string) error {
	if v == nil && schema["nullable"] == true {
		return nil
	}
	if all, ok := schema["allOf"].([]any); ok {
		for _, a := range all {
			if err := validate(doc, a.(map[string]any), v, at); err != nil {
				return err
			}
		}
		return nil
	}
	if ref, ok := schema["$ref"].(string); ok {
		s, err := resolvePointer(doc, ref)
		if err != nil {
			return err
		}
		m, ok := s.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: $ref %q is not a schema", at, ref)
		}
		return validate(doc, m, v, at)
	}
	if alts, ok := schema["oneOf"].([]any); ok {
		var errs []string
		for _, a := range alts {
			if err := validate(doc, a.(map[string]any), v, at); err != nil {
				errs = append(errs, err.Error())
			}
		}
		if n := len(alts) - len(errs); n != 1 {
			return fmt.Errorf("%s: matches %d of oneOf, want 1 (%s)", at, n, strings.Join(errs, "; "))
		}
		return nil
	}
	typ, _ := schema["type"].(string)
	if v == nil {
		if typ == "" || schema["nullable"] == true {
			return nil
		}
		return fmt.Errorf("%s: null, want %s", at, typ)
	}
	if enum, ok := schema["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return fmt.Sprint(e) == fmt.Sprint(v) }) {
		return fmt.Errorf("%s: %v not in enum %v", at, v, enum)
	}
	switch typ {
	case "":
		return nil // any value
	case "string":
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s: %T, want string", at, v)
		}
		if n, ok := schema["minLength"].(float64); ok && float64(len(s)) < n {
			return fmt.Errorf("%s: %q shorter than %v", at, s, n)
		}
		if p, ok := schema["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(s) {
			return fmt.Errorf("%s: %q does not match %s", at, s, p)
		}
		if schema["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
				return fmt.Errorf("%s: %q is not a date-time", at, s)
			}
		}
	case "integer", "number":
		n, ok := v.(json.Number)
		if !ok {
			return fmt.Errorf("%s: %T, want %s", at, v, typ)
		}
		f, err := n.Float64()
		if err != nil {
			return fmt.Errorf("%s: %v", at, err)
		}
		if typ == "integer" {
			if _, err := strconv.ParseInt(n.String(), 10, 64); err != nil {
				return fmt.Errorf("%s: %s is not an int64", at, n)
			}
		}
		if lo, ok := schema["minimum"].(float64); ok && f < lo {
			return fmt.Errorf("%s: %s below minimum %v", at, n, lo)
		}
		if hi, ok := schema["maximum"].(float64); ok && f > hi {
			return fmt.Errorf("%s: %s above maximum %v", at, n, hi)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s: %T, want boolean", at, v)
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: %T, want array", at, v)
		}
		items, _ := schema["items"].(map[string]any)
		for i, e := range a {
			if err := validate(doc, items, e, fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: %T, want object", at, v)
		}
		req, _ := schema["required"].([]any)
		for _, r := range req {
			if _, ok := m[r.(string)]; !ok {
				return fmt.Errorf("%s: required property %q missing", at, r)
			}
		}
		props, _ := schema["properties"].(map[string]any)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys) // report the same error every run
		for _, k := range keys {
			sub := at + "." + k
			if p, ok := props[k].(map[string]any); ok {
				if err := validate(doc, p, m[k], sub); err != nil {
					return err
				}
				continue
			}
			switch ap := schema["additionalProperties"].(type) {
			case map[string]any:
				if err := validate(doc, ap, m[k], sub); err != nil {
					return err
				}
			case bool:
				if !ap {
					return fmt.Errorf("%s: undocumented property", sub)
				}
			default:
				return fmt.Errorf("%s: undocumented property", sub)
			}
		}
	default:
		return fmt.Errorf("%s: schema type %q not supported by this checker", at, typ)
	}
	return nil
}

// TestOpenAPIValidator makes sure the checker fails what it should, so a
// passing TestOpenAPIResponses means something.
func TestOpenAPIValidator(t *testing.T) {
	doc := loadOpenAPI(t)
	seg := map[string]any{"$ref": "#/components/schemas/Segment"}
	h := newTestServer(t, liveHealth).Handler()
	good := serve(h, http.MethodGet, "/api/v1/segments/cam1/2").Body.Bytes()
	if err := validateJSON(doc, seg, good); err != nil {
		t.Fatalf("fixture segment: %v", err)
	}
	for name, edit := range map[string]func(m map[string]any){
		"undocumented field":   func(m map[string]any) { m["extra"] = 1 },
		"missing required":     func(m map[string]any) { delete(m, "index") },
		"wrong type":           func(m map[string]any) { m["index"] = "2" },
		"not an integer":       func(m map[string]any) { m["frames_seen"] = 1.5 },
		"below minimum":        func(m map[string]any) { m["index"] = -1 },
		"not in enum":          func(m map[string]any) { m["status"] = "done" },
		"not a date-time":      func(m map[string]any) { m["wall_start"] = "yesterday" },
		"null not nullable":    func(m map[string]any) { m["reasons"] = nil },
		"nested undocumented":  func(m map[string]any) { m["plugins"].(map[string]any)["face"].(map[string]any)["x"] = true },
		"bad additional value": func(m map[string]any) { m["plugins"].(map[string]any)["face"] = 3 },
	} {
		var m map[string]any
		if err := json.Unmarshal(good, &m); err != nil {
			t.Fatal(err)
		}
		edit(m)
		b, _ := json.Marshal(m)
		if err := validateJSON(doc, seg, b); err == nil {
			t.Errorf("%s: accepted %s", name, b)
		}
	}
}

// TestOpenAPISchemasMatchTypes compares each component schema with the Go
// type the handlers encode: the same JSON names, and required exactly where
// the field has no omitempty. It catches a field the fixtures never fill
// (cv, payload, ...) and a documented field no type writes.
// extraSchemaTypes maps schemas of routes kept in their own files to the Go
// types they describe, each added by an init function in that file's test.
var extraSchemaTypes = map[string]reflect.Type{}

func TestOpenAPISchemasMatchTypes(t *testing.T) {
	doc := loadOpenAPI(t)
	schemas := obj(obj(doc, "components"), "schemas")
	types := map[string]reflect.Type{
		"Error":           reflect.TypeFor[errorBody](),
		"ErrorDetail":     reflect.TypeFor[errorDetail](),
		"Diagnostic":      reflect.TypeFor[diagnostic](),
		"Health":          reflect.TypeFor[model.HostHealth](),
		"ComponentHealth": reflect.TypeFor[model.ComponentHealth](),
		"Stream":          reflect.TypeFor[model.Stream](),
		"StreamList":      reflect.TypeFor[streamsResponse](),
		"StreamCreated":   reflect.TypeFor[streamResponse](),
		"StreamSummary":   reflect.TypeFor[streamSummary](),
		"CommandRequest":  reflect.TypeFor[commandRequest](),
		"SegmentPage":     reflect.TypeFor[segmentsResponse](),
		"Segment":         reflect.TypeFor[model.Segment](),
		"PluginSegment":   reflect.TypeFor[model.PluginSegment](),
		"Item":            reflect.TypeFor[model.Item](),
		"Aggregate":       reflect.TypeFor[model.Aggregate](),
	}
	for name, typ := range extraSchemaTypes {
		types[name] = typ
	}
	for name, typ := range types {
		s := obj(schemas, name)
		if s == nil {
			t.Errorf("schema %s missing", name)
			continue
		}
		var props, required []string
		for p := range obj(s, "properties") {
			props = append(props, p)
		}
		req, _ := s["required"].([]any)
		for _, r := range req {
			required = append(required, r.(string))
		}
		var fields, always []string
		for f := range typ.Fields() {
			tag, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if tag == "" || tag == "-" {
				t.Errorf("%s.%s has no json name", typ, f.Name)
				continue
			}
			fields = append(fields, tag)
			if !strings.Contains(opts, "omitempty") {
				always = append(always, tag)
			}
		}
		for _, l := range [][]string{props, required, fields, always} {
			sort.Strings(l)
		}
		if !slices.Equal(props, fields) {
			t.Errorf("schema %s has properties %v, %s has %v", name, props, typ, fields)
		}
		if !slices.Equal(required, always) {
			t.Errorf("schema %s requires %v, %s always writes %v", name, required, typ, always)
		}
	}
}

// TestOpenAPIFullModel validates values with every optional field set,
// which the store fixtures leave empty.
func TestOpenAPIFullModel(t *testing.T) {
	doc := loadOpenAPI(t)
	f := 0.5
	seg := model.Segment{
		StreamID: "cam1", Index: 4, MediaStart: time.Second, MediaEnd: 2 * time.Second,
		WallStart: t0, WallEnd: t0.Add(time.Second), Status: model.SegmentPartial,
		Reasons:    []string{model.ReasonAudioGap, model.ReasonTextDropped},
		FramesSeen: 5, FramesDropped: 1, AudioSeconds: 0.75, AudioGapSeconds: 0.25,
		Plugins: map[string]model.PluginSegment{
			"asr": {Plugin: "asr", Version: "1.0.0", Status: model.PluginNoAudio, AudioSeconds: 1, AudioDroppedSeconds: 0.5,
				Messages: 2, TextDropped: 1, LateItems: 1,
				Items: []model.Item{{PTS: time.Second, Duration: time.Second, Topic: "transcript.final@1", Text: "hello",
					Payload: json.RawMessage(`{"words":[{"w":"hello"}]}`), Error: "partial", Late: true}},
				Aggregates: map[string]model.Aggregate{"f0": {N: 3, Mean: 1, CV: &f, RisingSlope: &f, FallingSlope: &f}}},
			"none": {Plugin: "none"},
		},
		ClosedAt: t0.Add(2 * time.Second), CloseLatency: time.Millisecond,
	}
	health := model.HostHealth{Status: model.HealthOK, Version: "1", Components: []model.ComponentHealth{
		{Name: "cam1", Kind: "stream", Health: model.HealthDegraded, Hint: "slow", Counters: map[string]int64{"frames": 1 << 40}}}}
	for schema, v := range map[string]any{
		"Segment":     seg,
		"SegmentPage": segmentsResponse{StreamID: "cam1", Segments: []model.Segment{seg}, NextSince: 5},
		"Health":      health,
		"StreamList": streamsResponse{Streams: []model.Stream{{ID: "cam1", Source: "test://ball", Health: model.HealthEnded,
			Hint: "end of file", Plugins: []string{"face"}, StartedAt: t0}}},
		"Error": errorBody{Error: errorDetail{Code: codeBadRequest, Message: "m",
			Diagnostics: []diagnostic{{Field: "id", Message: "bad", Offset: new(int)}, {Field: "", Message: "x"}}}},
	} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := validateJSON(doc, map[string]any{"$ref": "#/components/schemas/" + schema}, b); err != nil {
			t.Errorf("%s: %v\n%s", schema, err, b)
		}
	}
}
