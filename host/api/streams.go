package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/lsie-mlf/lsie/host/config"
	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/source"
)

// maxStreamBody bounds the body of POST /api/v1/streams.
const maxStreamBody = 64 << 10

// StreamManager adds and removes streams while the host runs. The host
// implements it; SetStreams hands it to the server.
type StreamManager interface {
	// AddStream starts a validated stream. ctx bounds the call, not the
	// stream's life. The error wraps ErrStreamExists when the id is taken.
	AddStream(ctx context.Context, s config.Stream) error
	// RemoveStream stops and removes the stream with this id. The error
	// wraps ErrStreamNotFound when there is none.
	RemoveStream(ctx context.Context, id string) error
	// PluginCommand runs an operator command on one plugin of a stream and
	// returns its JSON result. The error wraps ErrStreamNotFound or
	// ErrPluginNotFound, or is a *CommandError from the plugin.
	PluginCommand(ctx context.Context, stream, plugin, command string, args []byte) ([]byte, error)
}

// CommandError is a plugin's refusal of a command: Code "unsupported" (it
// takes no commands), "bad_input" (unknown command or bad arguments), or
// another plugin error code.
type CommandError struct{ Code, Message string }

func (e *CommandError) Error() string { return e.Code + ": " + e.Message }

// Errors a StreamManager returns for conditions the API answers with a
// status of their own: 409, 404 and 422 (a well-formed stream the host
// cannot run as asked: no such plugin, no version matching its constraint).
var (
	ErrStreamExists   = errors.New("stream already exists")
	ErrStreamNotFound = errors.New("stream not found")
	ErrUnrunnable     = errors.New("stream cannot run")
	ErrPluginNotFound = errors.New("plugin not found")
	// ErrPluginDown: the plugin's process is not running (restarting, or
	// in error) and cannot take a command now.
	ErrPluginDown = errors.New("plugin is not running")
)

// streamsConfig is what SetStreams gave.
type streamsConfig struct {
	m       StreamManager
	baseDir string
	policy  *source.Policy
}

// SetStreams enables POST /api/v1/streams and DELETE /api/v1/streams/{id}:
// m adds and removes streams, baseDir anchors relative file sources (the
// config file's directory) and policy is the sources policy new streams
// must pass (nil allows every source). Call it before Start; without it
// those routes answer 501.
func (s *Server) SetStreams(m StreamManager, baseDir string, policy *source.Policy) {
	if m == nil {
		s.streams.Store(nil)
		return
	}
	s.streams.Store(&streamsConfig{m: m, baseDir: baseDir, policy: policy})
}

// streamResponse is the body of a 201 from POST /api/v1/streams.
type streamResponse struct {
	Stream streamSummary `json:"stream"`
}

// streamSummary describes an added stream: model.Stream's fields that are
// known before it runs, and its settings. Source is redacted: a password in
// the URI is not sent back.
type streamSummary struct {
	ID       string       `json:"id"`
	Source   string       `json:"source"`
	Health   model.Health `json:"health"`
	Plugins  []string     `json:"plugins"`
	Realtime bool         `json:"realtime"`
	Loop     bool         `json:"loop"`
	Video    videoSummary `json:"video"`
}

type videoSummary struct {
	FPS      int `json:"fps"`
	MaxWidth int `json:"max_width"`
}

func summarize(st config.Stream) streamSummary {
	plugins := make([]string, len(st.Plugins))
	for i, p := range st.Plugins {
		plugins[i] = p.Name
	}
	return streamSummary{
		ID: st.ID, Source: st.Source.Redacted(), Health: model.HealthStarting, Plugins: plugins,
		Realtime: st.Realtime, Loop: st.Loop,
		Video: videoSummary{FPS: st.Video.FPS, MaxWidth: st.Video.MaxWidth},
	}
}

// streamManager returns what SetStreams gave, or answers 501 and nil.
func (s *Server) streamManager(w http.ResponseWriter, r *http.Request) *streamsConfig {
	sc := s.streams.Load()
	if sc == nil {
		writeError(w, http.StatusNotImplemented, codeNotImplemented,
			fmt.Sprintf("%s %s: adding and removing streams is not available in this process", r.Method, r.URL.Path))
	}
	return sc
}

// readJSONBody reads a JSON request body of at most limit bytes; on a
// wrong media type, an oversize or unreadable body it answers the request
// itself and returns false.
func (s *Server) readJSONBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	if msg := checkJSONContent(r.Header.Get("Content-Type")); msg != "" {
		writeError(w, http.StatusUnsupportedMediaType, codeMediaType, msg)
		return nil, false
	}
	tooLarge := fmt.Sprintf("request body is larger than %d bytes", limit)
	if r.ContentLength > limit {
		writeError(w, http.StatusRequestEntityTooLarge, codeTooLarge, tooLarge)
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		writeError(w, http.StatusRequestEntityTooLarge, codeTooLarge, tooLarge)
		return nil, false
	}
	if err != nil {
		s.log.Debug("read request body", "path", r.URL.Path, "error", err)
		writeError(w, http.StatusBadRequest, codeBadRequest, "could not read the request body")
		return nil, false
	}
	return body, true
}

// postStream adds a stream from its JSON description (config.ParseStream).
func (s *Server) postStream(w http.ResponseWriter, r *http.Request) {
	sc := s.streamManager(w, r)
	if sc == nil {
		return
	}
	body, ok := s.readJSONBody(w, r, maxStreamBody)
	if !ok {
		return
	}
	st, err := config.ParseStream(body, sc.baseDir, sc.policy)
	if err != nil {
		s.refuseStream(w, r, err)
		return
	}
	err = sc.m.AddStream(r.Context(), st)
	var ds config.Diagnostics
	switch {
	case errors.As(err, &ds):
		// Checks that need the plugins (the plugin graph) fail like parsing.
		s.refuseStream(w, r, err)
		return
	case errors.Is(err, ErrStreamExists):
		writeError(w, http.StatusConflict, codeConflict, fmt.Sprintf("stream %q already exists", st.ID))
		return
	case errors.Is(err, ErrUnrunnable):
		writeError(w, http.StatusUnprocessableEntity, codeUnprocessable, err.Error())
		return
	case errors.Is(err, source.ErrNotAllowed):
		writeError(w, http.StatusForbidden, codeForbidden,
			fmt.Sprintf("stream %q: source %q is not allowed by the sources policy", st.ID, st.Source.Redacted()))
		return
	case err != nil:
		s.internalError(w, r, fmt.Errorf("add stream %q: %w", st.ID, err))
		return
	}
	s.log.Info("stream added", "stream", st.ID, "source", st.Source.Redacted(), "remote", r.RemoteAddr)
	w.Header().Set("Location", "/api/v1/streams/"+url.PathEscape(st.ID))
	s.writeJSON(w, http.StatusCreated, streamResponse{Stream: summarize(st)})
}

// refuseStream answers a body config.ParseStream refused: 403 when the
// sources policy refused its source (whatever else is wrong), else 400;
// both list every diagnostic.
func (s *Server) refuseStream(w http.ResponseWriter, r *http.Request, err error) {
	var ds config.Diagnostics
	if !errors.As(err, &ds) {
		s.internalError(w, r, fmt.Errorf("parse stream: %w", err))
		return
	}
	status, e := http.StatusBadRequest, errorDetail{Code: codeBadRequest, Message: "invalid stream: see diagnostics"}
	if errors.Is(err, source.ErrNotAllowed) {
		status, e = http.StatusForbidden, errorDetail{Code: codeForbidden, Message: "source not allowed by the sources policy"}
	}
	e.Diagnostics = make([]diagnostic, len(ds))
	for i, d := range ds {
		e.Diagnostics[i] = diagnostic{Field: d.Field, Message: d.Message}
		if d.Pos.Line == 1 && d.Pos.Column >= 1 {
			off := d.Pos.Column - 1 // ParseStream's Column is the byte offset + 1
			e.Diagnostics[i].Offset = &off
		}
	}
	writeErrorDetail(w, status, e)
}

// checkJSONContent returns why a Content-Type is not JSON, or "". Requiring
// it also keeps browsers from sending the body cross-site without a
// preflight.
func checkJSONContent(ct string) string {
	if ct == "" {
		return "missing Content-Type: send the stream as application/json"
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return fmt.Sprintf("Content-Type %q is not supported: send the stream as application/json", ct)
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return fmt.Sprintf("Content-Type %q is not supported: send the stream as application/json (charset utf-8 if any)", ct)
		}
	}
	return ""
}

// deleteStream stops and removes a stream.
func (s *Server) deleteStream(w http.ResponseWriter, r *http.Request) {
	sc := s.streamManager(w, r)
	if sc == nil {
		return
	}
	id := r.PathValue("id")
	err := sc.m.RemoveStream(r.Context(), id)
	if errors.Is(err, ErrStreamNotFound) {
		writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("stream %q not found", id))
		return
	}
	if err != nil {
		s.internalError(w, r, fmt.Errorf("remove stream %q: %w", id, err))
		return
	}
	s.log.Info("stream removed", "stream", id, "remote", r.RemoteAddr)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// maxCommandBody bounds the body of POST .../commands.
const maxCommandBody = 16 << 10

// commandRequest is the body of POST /api/v1/streams/{id}/plugins/{plugin}/commands.
type commandRequest struct {
	Command string          `json:"command"`
	Args    json.RawMessage `json:"args,omitempty"`
}

// postCommand runs an operator command on one plugin of a stream, e.g. the
// au plugin's {"command": "baseline"}; 200 with {"result": ...}.
func (s *Server) postCommand(w http.ResponseWriter, r *http.Request) {
	sc := s.streamManager(w, r)
	if sc == nil {
		return
	}
	body, ok := s.readJSONBody(w, r, maxCommandBody)
	if !ok {
		return
	}
	var req commandRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, "command body: "+err.Error())
		return
	}
	if req.Command == "" {
		writeError(w, http.StatusBadRequest, codeBadRequest, `command body: missing field "command"`)
		return
	}
	id, name := r.PathValue("id"), r.PathValue("plugin")
	res, err := sc.m.PluginCommand(r.Context(), id, name, req.Command, req.Args)
	var ce *CommandError
	switch {
	case errors.Is(err, ErrStreamNotFound):
		writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("stream %q not found", id))
	case errors.Is(err, ErrPluginNotFound):
		writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("stream %q has no plugin %q", id, name))
	case errors.Is(err, ErrPluginDown):
		writeError(w, http.StatusServiceUnavailable, codeUnavailable, err.Error())
	case errors.As(err, &ce) && ce.Code == "unsupported":
		writeError(w, http.StatusNotImplemented, codeNotImplemented, fmt.Sprintf("plugin %q takes no commands", name))
	case errors.As(err, &ce) && ce.Code == "bad_input":
		writeError(w, http.StatusBadRequest, codeBadRequest, fmt.Sprintf("plugin %q: %s", name, ce.Message))
	case err != nil:
		s.internalError(w, r, fmt.Errorf("command %q on %s/%s: %w", req.Command, id, name, err))
	default:
		if len(res) == 0 || !json.Valid(res) {
			res = []byte("null")
		}
		s.log.Info("plugin command", "stream", id, "plugin", name, "command", req.Command, "remote", r.RemoteAddr)
		s.writeJSON(w, http.StatusOK, map[string]json.RawMessage{"result": res})
	}
}
