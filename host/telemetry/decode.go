package telemetry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lsie-mlf/lsie/host/model"
)

// Limits of the event schema.
const (
	MaxIDLen      = 128
	MaxNameLen    = 128 // stream_id, experiment, arm
	MaxSubjectLen = 64
	MaxTypeLen    = 64
	MaxPayload    = 64 << 10 // compacted bytes
	MaxRR         = 300
	MinYear       = 2000
	MaxYear       = 2200
)

// Validator checks references against what the host knows. Nil funcs accept
// everything.
type Validator struct {
	// Stream reports whether a stream id is known.
	Stream func(id string) bool
	// Arms returns an experiment's arms, false when it is unknown.
	Arms func(experiment string) ([]string, bool)
	// MaxEvents caps the events of one body (<= 0: DefaultMaxEvents); pass
	// Verifier.MaxEvents() so the configured limit applies.
	MaxEvents int
}

// Decoded is one accepted event and its index in the body's events array.
type Decoded struct {
	Index int
	Event model.TelemetryEvent
}

// Rejection is one refused event: its index, its id when that was valid,
// the path of the first offending field (events[3].rr_ms[2], or events[3]
// for the event as a whole) and why.
type Rejection struct {
	Index   int    `json:"index"`
	ID      string `json:"id,omitempty"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (r Rejection) String() string { return r.Field + ": " + r.Message }

// BodyError is a body that cannot be read as a batch at all. Field is the
// JSON path where the problem lies ("" for the body itself, "events",
// "events[4]"), Offset its byte offset and Line and Col (1-based, Col in
// bytes) the same position for humans.
type BodyError struct {
	Field   string `json:"field,omitempty"`
	Offset  int64  `json:"offset"`
	Line    int    `json:"line"`
	Col     int    `json:"col"`
	Message string `json:"message"`
}

func (e *BodyError) Error() string {
	where := ""
	if e.Field != "" {
		where = " " + e.Field + ":"
	}
	return fmt.Sprintf("body at line %d, col %d (byte %d):%s %s", e.Line, e.Col, e.Offset, where, e.Message)
}

// Decode parses a webhook body from src received at now. Whole-body problems
// return a *BodyError and nothing else; otherwise each event is either
// decoded or rejected (the first problem found), both in index order.
func Decode(body []byte, src Source, now time.Time, v Validator) ([]Decoded, []Rejection, error) {
	max := v.MaxEvents
	if max <= 0 {
		max = DefaultMaxEvents
	}
	raws, err := splitBody(body, max)
	if err != nil {
		return nil, nil, err
	}
	var out []Decoded
	var rej []Rejection
	for i, raw := range raws {
		ev, r := decodeEvent(i, raw, src, now, v)
		if r != nil {
			rej = append(rej, *r)
			continue
		}
		out = append(out, Decoded{Index: i, Event: ev})
	}
	return out, rej, nil
}

// splitBody checks the envelope {"events": [...]} and returns the raw
// events. The token-level walk keeps positions, so errors can point at the
// offending byte.
func splitBody(body []byte, max int) ([]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if len(bytes.TrimLeft(body, " \t\r\n")) == 0 {
		return nil, bodyErr(body, "", int64(len(body)), "empty body; want {\"events\": [...]}")
	}
	start := skipSpace(body, 0)
	tok, err := dec.Token()
	if err != nil {
		return nil, syntaxErr(body, "", dec, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, bodyErr(body, "", start, "body must be a JSON object {\"events\": [...]}, got "+jsonType(body[start:]))
	}
	var events []json.RawMessage
	seen := false
	for dec.More() {
		keyOff := skipSep(body, dec.InputOffset())
		tok, err := dec.Token()
		if err != nil {
			return nil, syntaxErr(body, "", dec, err)
		}
		key, _ := tok.(string)
		if key != "events" {
			return nil, bodyErr(body, "", keyOff, "unknown field "+quote(key)+"; want {\"events\": [...]}")
		}
		if seen {
			return nil, bodyErr(body, "events", keyOff, "duplicate field \"events\"")
		}
		seen = true
		valOff := skipSep(body, dec.InputOffset())
		tok, err = dec.Token()
		if err != nil {
			return nil, syntaxErr(body, "events", dec, err)
		}
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			return nil, bodyErr(body, "events", valOff, "must be an array of events, got "+jsonType(body[valOff:]))
		}
		events = []json.RawMessage{}
		for dec.More() {
			off := skipSep(body, dec.InputOffset())
			if len(events) == max {
				return nil, bodyErr(body, "events", off, fmt.Sprintf("more than %d events", max))
			}
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, syntaxErr(body, fmt.Sprintf("events[%d]", len(events)), dec, err)
			}
			events = append(events, raw)
		}
		if _, err := dec.Token(); err != nil { // ']'
			return nil, syntaxErr(body, "events", dec, err)
		}
	}
	endOff := skipSep(body, dec.InputOffset())
	if _, err := dec.Token(); err != nil { // '}'
		return nil, syntaxErr(body, "", dec, err)
	}
	if !seen {
		return nil, bodyErr(body, "events", endOff, "missing field \"events\"")
	}
	if rest := skipSpace(body, dec.InputOffset()); rest < int64(len(body)) {
		return nil, bodyErr(body, "", rest, "trailing data after the JSON object")
	}
	return events, nil
}

// syntaxErr positions a decoder error. The Decoder's own SyntaxError offset
// is relative to its buffer, so the exact byte comes from re-scanning the
// whole body (only on this error path).
func syntaxErr(body []byte, field string, dec *json.Decoder, derr error) *BodyError {
	var raw json.RawMessage
	var se *json.SyntaxError
	if err := json.Unmarshal(body, &raw); errors.As(err, &se) {
		off := se.Offset
		if strings.HasPrefix(se.Error(), "unexpected end") {
			off = int64(len(body))
		} else if off > 0 {
			off-- // Offset counts the offending byte
		}
		return bodyErr(body, field, off, "invalid JSON: "+se.Error())
	}
	msg := derr.Error()
	if errors.Is(derr, io.EOF) || errors.Is(derr, io.ErrUnexpectedEOF) {
		msg = "unexpected end of JSON input"
	}
	return bodyErr(body, field, dec.InputOffset(), "invalid JSON: "+msg)
}

func bodyErr(body []byte, field string, off int64, msg string) *BodyError {
	if off > int64(len(body)) {
		off = int64(len(body))
	}
	head := body[:off]
	line := 1 + bytes.Count(head, []byte{'\n'})
	col := int(off) - bytes.LastIndexByte(head, '\n')
	return &BodyError{Field: field, Offset: off, Line: line, Col: col, Message: msg}
}

func skipSpace(b []byte, i int64) int64 {
	for i < int64(len(b)) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// skipSep skips what the Decoder leaves before the next token: whitespace
// and the separators it has not consumed yet.
func skipSep(b []byte, i int64) int64 {
	for i < int64(len(b)) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n' || b[i] == ',' || b[i] == ':') {
		i++
	}
	return i
}

// jsonType names the JSON type of a value by its first byte (the value is
// known to be valid JSON).
func jsonType(raw []byte) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// fieldKind says which kind a field belongs to ("" = every kind).
var fieldKind = map[string]model.TelemetryKind{
	"id": "", "kind": "", "stream_id": "", "time": "", "payload": "",
	"subject": model.TelemetryPhysiology, "hr_bpm": model.TelemetryPhysiology, "rr_ms": model.TelemetryPhysiology,
	"experiment": model.TelemetryStimulus, "arm": model.TelemetryStimulus,
	"type": model.TelemetryStreamEvent,
}

type field struct {
	key string
	raw json.RawMessage
}

// eventParser holds one event's fields while they are checked in a fixed
// order, so "the first problem" is deterministic whatever the key order.
type eventParser struct {
	path   string
	list   []field // document order
	fields map[string]json.RawMessage
}

// problem is a field path and message; nil means fine.
type problem struct{ field, msg string }

func (p *eventParser) at(name, msg string) *problem {
	return &problem{field: p.path + "." + name, msg: msg}
}

func decodeEvent(i int, raw json.RawMessage, src Source, now time.Time, v Validator) (model.TelemetryEvent, *Rejection) {
	p := &eventParser{path: fmt.Sprintf("events[%d]", i)}
	ev := model.TelemetryEvent{Source: src.Name, ReceivedAt: now}
	prob := p.parse(raw, src, v, &ev)
	if prob == nil {
		return ev, nil
	}
	r := &Rejection{Index: i, Field: prob.field, Message: prob.msg}
	for _, f := range p.list { // even when an earlier field stopped the checks
		if f.key == "id" {
			if s, pr := p.str("id", f.raw); pr == nil && validID(s) {
				r.ID = s
			}
			break
		}
	}
	return model.TelemetryEvent{}, r
}

func (p *eventParser) parse(raw json.RawMessage, src Source, v Validator, ev *model.TelemetryEvent) *problem {
	if raw[0] != '{' {
		return &problem{p.path, "must be an object, got " + jsonType(raw)}
	}
	fields, prob := p.split(raw)
	if prob != nil {
		return prob
	}
	p.list = fields
	p.fields = make(map[string]json.RawMessage, len(fields))
	for _, f := range fields {
		if _, known := fieldKind[f.key]; !known {
			return p.named(f.key, "unknown field "+quote(f.key))
		}
		if _, dup := p.fields[f.key]; dup {
			return p.at(f.key, "duplicate field "+quote(f.key))
		}
		p.fields[f.key] = f.raw
	}

	id, prob := p.required("id")
	if prob != nil {
		return prob
	}
	if !validID(id) {
		return p.at("id", fmt.Sprintf("must be 1..%d printable ASCII characters without spaces", MaxIDLen))
	}
	ev.ID = id

	kind, prob := p.required("kind")
	if prob != nil {
		return prob
	}
	switch k := model.TelemetryKind(kind); k {
	case model.TelemetryPhysiology, model.TelemetryStimulus, model.TelemetryStreamEvent:
		ev.Kind = k
	default:
		return p.at("kind", "must be one of physiology, stimulus, stream_event, got "+quote(kind))
	}
	for _, f := range fields { // document order: the first offender
		if k := fieldKind[f.key]; k != "" && k != ev.Kind {
			return p.at(f.key, fmt.Sprintf("not allowed for kind %s (a %s field)", ev.Kind, k))
		}
	}

	if prob := p.stream(src, v, ev); prob != nil {
		return prob
	}
	if prob := p.time(src, ev); prob != nil {
		return prob
	}
	if prob := p.payload(ev); prob != nil {
		return prob
	}
	switch ev.Kind {
	case model.TelemetryPhysiology:
		return p.physiology(ev)
	case model.TelemetryStimulus:
		return p.stimulus(v, ev)
	default:
		return p.streamEvent(ev)
	}
}

// split lists an object's fields in document order (a map would lose the
// order and silently merge duplicates).
func (p *eventParser) split(raw json.RawMessage) ([]field, *problem) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	var fields []field
	// raw was validated by the body's decoder, so errors are not expected;
	// they are still reported rather than ignored.
	bad := func(err error) *problem { return &problem{p.path, "invalid JSON: " + err.Error()} }
	if _, err := dec.Token(); err != nil {
		return nil, bad(err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, bad(err)
		}
		key, _ := tok.(string)
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return nil, bad(err)
		}
		fields = append(fields, field{key, val})
	}
	return fields, nil
}

// named paths a field by its key when the key reads as a path segment, and
// by the event otherwise (the message quotes the key either way).
func (p *eventParser) named(key, msg string) *problem {
	if key == "" || len(key) > 64 || !allBytes(key, isIdentByte) {
		return &problem{p.path, msg}
	}
	return p.at(key, msg)
}

func (p *eventParser) required(name string) (string, *problem) {
	raw, ok := p.fields[name]
	if !ok {
		return "", p.at(name, "required")
	}
	return p.str(name, raw)
}

func (p *eventParser) str(name string, raw json.RawMessage) (string, *problem) {
	if raw[0] != '"' {
		return "", p.at(name, "must be a string, got "+jsonType(raw))
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", p.at(name, "must be a string")
	}
	return s, nil
}

func (p *eventParser) stream(src Source, v Validator, ev *model.TelemetryEvent) *problem {
	raw, ok := p.fields["stream_id"]
	if !ok {
		if src.Stream == "" {
			return p.at("stream_id", "required (source "+quote(src.Name)+" has no default stream)")
		}
		if v.Stream != nil && !v.Stream(src.Stream) {
			return p.at("stream_id", "absent, and the source's default stream "+quote(src.Stream)+" is unknown")
		}
		ev.StreamID = src.Stream
		return nil
	}
	s, prob := p.str("stream_id", raw)
	if prob != nil {
		return prob
	}
	if !validName(s) {
		return p.at("stream_id", fmt.Sprintf("must be 1..%d characters without control characters", MaxNameLen))
	}
	if v.Stream != nil && !v.Stream(s) {
		return p.at("stream_id", "unknown stream "+quote(s))
	}
	ev.StreamID = s
	return nil
}

func (p *eventParser) time(src Source, ev *model.TelemetryEvent) *problem {
	if raw, ok := p.fields["time"]; ok && jsonType(raw) == "number" {
		// Senders used to unix clocks send numbers; say which unit it looks
		// like so the fix is obvious.
		if unit, t, ok := unixUnit(string(raw)); ok {
			return p.at("time", fmt.Sprintf("%s, got a number that looks like unix %s (%s)", timeHint, unit, t.Format(time.RFC3339Nano)))
		}
		return p.at("time", timeHint+", got number")
	}
	s, prob := p.required("time")
	if prob != nil {
		return prob
	}
	t, msg := parseTime(s)
	if msg != "" {
		return p.at("time", msg)
	}
	ev.SourceTime = t
	ev.Time = t.Add(src.ClockOffset)
	return nil
}

func (p *eventParser) payload(ev *model.TelemetryEvent) *problem {
	raw, ok := p.fields["payload"]
	if !ok || raw[0] == 'n' { // null: no payload
		return nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return p.at("payload", "invalid JSON: "+err.Error())
	}
	if buf.Len() > MaxPayload {
		return p.at("payload", fmt.Sprintf("larger than %d bytes (compacted: %d)", MaxPayload, buf.Len()))
	}
	ev.Payload = json.RawMessage(buf.Bytes())
	return nil
}

func (p *eventParser) physiology(ev *model.TelemetryEvent) *problem {
	subj, prob := p.required("subject")
	if prob != nil {
		return prob
	}
	if len(subj) == 0 || len(subj) > MaxSubjectLen || !allBytes(subj, isSubjectByte) {
		return p.at("subject", fmt.Sprintf("must be 1..%d characters of [A-Za-z0-9_.-]", MaxSubjectLen))
	}
	ev.Subject = subj
	if raw, ok := p.fields["hr_bpm"]; ok {
		hr, msg := number(raw, 20, 300)
		if msg != "" {
			return p.at("hr_bpm", msg)
		}
		ev.HeartRate = &hr
	}
	if raw, ok := p.fields["rr_ms"]; ok {
		if raw[0] != '[' {
			return p.at("rr_ms", "must be an array of numbers, got "+jsonType(raw))
		}
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return p.at("rr_ms", "must be an array of numbers")
		}
		if len(elems) > MaxRR {
			return p.at("rr_ms", fmt.Sprintf("more than %d intervals (%d)", MaxRR, len(elems)))
		}
		for j, e := range elems {
			rr, msg := number(e, 200, 3000)
			if msg != "" {
				return p.at(fmt.Sprintf("rr_ms[%d]", j), msg)
			}
			ev.RR = append(ev.RR, rr)
		}
	}
	if ev.HeartRate == nil && len(ev.RR) == 0 {
		return &problem{p.path, "a physiology event needs hr_bpm or a non-empty rr_ms"}
	}
	return nil
}

func (p *eventParser) stimulus(v Validator, ev *model.TelemetryEvent) *problem {
	exp, prob := p.required("experiment")
	if prob != nil {
		return prob
	}
	if !validName(exp) {
		return p.at("experiment", fmt.Sprintf("must be 1..%d characters without control characters", MaxNameLen))
	}
	var arms []string
	if v.Arms != nil {
		var known bool
		if arms, known = v.Arms(exp); !known {
			return p.at("experiment", "unknown experiment "+quote(exp))
		}
	}
	arm, prob := p.required("arm")
	if prob != nil {
		return prob
	}
	if !validName(arm) {
		return p.at("arm", fmt.Sprintf("must be 1..%d characters without control characters", MaxNameLen))
	}
	if v.Arms != nil && !contains(arms, arm) {
		return p.at("arm", "unknown arm "+quote(arm)+" of experiment "+quote(exp))
	}
	ev.Experiment, ev.Arm = exp, arm
	return nil
}

func (p *eventParser) streamEvent(ev *model.TelemetryEvent) *problem {
	typ, prob := p.required("type")
	if prob != nil {
		return prob
	}
	if len(typ) == 0 || len(typ) > MaxTypeLen || !allBytes(typ, isTypeByte) {
		return p.at("type", fmt.Sprintf("must be 1..%d characters of [a-z0-9_.-]", MaxTypeLen))
	}
	ev.Type = typ
	return nil
}

// number parses a JSON number from its literal (exact to the nearest
// float64, no detour through interface{}) and checks it against [lo, hi].
func number(raw json.RawMessage, lo, hi float64) (float64, string) {
	if t := jsonType(raw); t != "number" {
		return 0, "must be a number, got " + t
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil { // only ErrRange: the literal is valid JSON
		return 0, fmt.Sprintf("must be between %g and %g, got an out-of-range number", lo, hi)
	}
	if f < lo || f > hi {
		return 0, fmt.Sprintf("must be between %g and %g, got %g", lo, hi, f)
	}
	return f, ""
}

const timeHint = "must be an RFC 3339 time with a UTC offset, e.g. 2024-05-01T12:00:00.250Z"

// parseTime accepts exactly YYYY-MM-DDTHH:MM:SS[.F{1,9}](Z|±HH:MM): the
// shape is checked first because time.Parse alone is lenient about some of
// it (fraction length, offset range).
func parseTime(s string) (time.Time, string) {
	const base = "0000-00-00T00:00:00"
	if s != "" && allBytes(s, func(c byte) bool { return isDigit(c) || c == '.' }) {
		if unit, t, ok := unixUnit(s); ok {
			return time.Time{}, fmt.Sprintf("%s, got a string of digits that looks like unix %s (%s)", timeHint, unit, t.Format(time.RFC3339Nano))
		}
	}
	if len(s) < len(base)+1 {
		return time.Time{}, timeHint
	}
	for i := 0; i < len(base); i++ {
		if base[i] == '0' && !isDigit(s[i]) || base[i] != '0' && s[i] != base[i] {
			return time.Time{}, timeHint
		}
	}
	rest := s[len(base):]
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && isDigit(rest[n]) {
			n++
		}
		if n == 1 || n > 10 {
			return time.Time{}, timeHint + " (fraction of 1..9 digits)"
		}
		rest = rest[n:]
	}
	switch {
	case rest == "Z":
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':' &&
		isDigit(rest[1]) && isDigit(rest[2]) && isDigit(rest[4]) && isDigit(rest[5]):
		if rest[1:3] > "23" || rest[4:6] > "59" {
			return time.Time{}, timeHint + " (offset out of range)"
		}
	default:
		return time.Time{}, timeHint
	}
	if y, _ := strconv.Atoi(s[:4]); y < MinYear || y > MaxYear {
		return time.Time{}, fmt.Sprintf("year %d is outside %d..%d", y, MinYear, MaxYear)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil { // a field out of range, such as month 13 or Feb 30
		return time.Time{}, timeHint + " (" + strings.TrimPrefix(err.Error(), "parsing time "+strconv.Quote(s)+": ") + ")"
	}
	return t.UTC(), ""
}

func validID(s string) bool {
	return len(s) >= 1 && len(s) <= MaxIDLen && allBytes(s, func(c byte) bool { return c > ' ' && c < 0x7f })
}

// validName bounds free-form names that the Validator may not check (nil
// funcs): valid UTF-8 without control characters.
func validName(s string) bool {
	if len(s) == 0 || len(s) > MaxNameLen || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return false
		}
	}
	return true
}

func allBytes(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isIdentByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c == '_'
}

func isSubjectByte(c byte) bool { return isIdentByte(c) || c == '.' || c == '-' }

func isTypeByte(c byte) bool {
	return c >= 'a' && c <= 'z' || isDigit(c) || c == '_' || c == '.' || c == '-'
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
