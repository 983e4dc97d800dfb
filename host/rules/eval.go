package rules

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"

	"github.com/lsie-mlf/lsie/host/config"
	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/motion"
	"github.com/lsie-mlf/lsie/sdk/topic"
)

// Alert is a rule's condition holding on a stream: open (End nil) from the
// moment it fires, closed when the condition stops holding.
type Alert = model.Alert

// Stream runs the rules that watch one stream. Results reach it from the
// plugins' reader goroutines, closed segments from the store writer: one
// mutex keeps its view and the rules' states.
type Stream struct {
	id     string
	anchor func() time.Time // the stream's wall time at media time 0
	emit   func(Alert)      // an alert opened or closed
	onErr  func(rule string, err error)

	mu      sync.Mutex
	rules   []*Rule
	states  []state
	view    view
	clock   time.Duration // latest media time seen: rules' time never goes back
	nextSeq int
}

// StreamConfig sets up a Stream.
type StreamConfig struct {
	ID    string
	Zones []motion.Zone
	// Anchor returns the stream's wall time at media time 0.
	Anchor func() time.Time
	// Emit is called, in order, with each alert opened and closed.
	Emit func(Alert)
	// OnError is called with a rule's run-time error (a division by zero,
	// a value of the wrong type): the rule counts as false.
	OnError func(rule string, err error)
}

// NewStream returns the rules of rs that watch cfg.ID.
func NewStream(cfg StreamConfig, rs []*Rule) *Stream {
	s := &Stream{id: cfg.ID, anchor: cfg.Anchor, emit: cfg.Emit, onErr: cfg.OnError}
	for _, r := range rs {
		if r.Matches(cfg.ID) {
			s.rules = append(s.rules, r)
		}
	}
	s.states = make([]state, len(s.rules))
	s.view = view{fields: map[string]map[string]float64{}, objects: map[string][]model.Object{}, topics: map[string]map[string]any{},
		zones: cfg.Zones}
	return s
}

// SetRules replaces the stream's rules (a reload): a rule kept unchanged
// keeps its state, open alert included; a rule removed or changed ends its
// open alert now (the latest media time seen).
func (s *Stream) SetRules(rs []*Rule) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var rules []*Rule
	var states []state
	kept := map[int]bool{}
	for _, r := range rs {
		if !r.Matches(s.id) {
			continue
		}
		st := state{}
		for i, old := range s.rules {
			if !kept[i] && sameRule(old.Config, r.Config) {
				st, kept[i] = s.states[i], true
				break
			}
		}
		rules, states = append(rules, r), append(states, st)
	}
	for i := range s.rules {
		if st := &s.states[i]; !kept[i] && st.open != nil {
			s.end(st, max(s.clock, st.open.Start))
		}
	}
	s.rules, s.states = rules, states
}

// sameRule compares rules, not where they were written.
func sameRule(a, b config.Rule) bool {
	a.Pos, a.WhenPos, b.Pos, b.WhenPos = config.Pos{}, config.Pos{}, config.Pos{}, config.Pos{}
	return reflect.DeepEqual(a, b)
}

// Len is how many rules watch the stream. A nil Stream has none, and its
// methods do nothing.
func (s *Stream) Len() int {
	if s == nil {
		return 0
	}
	return len(s.rules)
}

// view is the stream's latest values, what live rules read.
type view struct {
	fields  map[string]map[string]float64 // plugin -> field -> latest value
	objects map[string][]model.Object     // plugin -> its latest frame's objects
	topics  map[string]map[string]any     // family -> latest final message
	zones   []motion.Zone
}

// Result takes a plugin's item (a frame's or hop's result, or a message it
// published) and evaluates the live rules at its media time.
func (s *Stream) Result(plugin string, it model.Item) {
	if s.Len() == 0 || it.Error != "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if it.Topic != "" {
		fam, partial := family(it.Topic)
		if partial {
			return // only finals: a partial is revised until its final
		}
		m := map[string]any{"text": it.Text, "topic": it.Topic}
		for k, v := range it.Fields {
			m[k] = v
		}
		s.view.topics[fam] = m
	} else {
		if len(it.Fields) > 0 {
			f := s.view.fields[plugin]
			if f == nil {
				f = map[string]float64{}
				s.view.fields[plugin] = f
			}
			for k, v := range it.Fields {
				f[k] = v
			}
		}
		if it.Objects != nil || s.view.objects[plugin] != nil {
			s.view.objects[plugin] = it.Objects
		}
	}
	s.clock = max(s.clock, it.PTS)
	act := activation{v: &s.view}
	for i, r := range s.rules {
		if !r.segment {
			// From the item's own time: a transcript final that arrives
			// after later frames still starts the alert when it was said.
			s.step(i, r, act, it.PTS, s.clock)
		}
	}
}

// Segment evaluates the segment rules on a closed segment: an alert holds
// from the start of the first segment whose aggregates made it true to the
// end of the last (the start of the first that did not); `for` counts to
// the segment's end.
func (s *Stream) Segment(seg model.Segment) {
	if s.Len() == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	agg := map[string]any{}
	for name, p := range seg.Plugins {
		fields := map[string]any{}
		for f, a := range p.Aggregates {
			fields[f] = map[string]any{"n": float64(a.N), "mean": a.Mean, "std": a.Std, "min": a.Min, "max": a.Max,
				"p10": a.P10, "p50": a.P50, "p90": a.P90}
		}
		agg[name] = fields
	}
	act := activation{v: &s.view, segment: agg}
	for i, r := range s.rules {
		if r.segment {
			s.step(i, r, act, seg.MediaStart, seg.MediaEnd)
		}
	}
}

// Close ends every open alert at media time t (the stream stopped).
func (s *Stream) Close(t time.Duration) {
	if s.Len() == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.rules {
		if st := &s.states[i]; st.open != nil {
			s.end(st, max(t, st.open.Start))
		}
	}
}

// state is one rule's progress on the stream.
type state struct {
	pending    bool
	since      time.Duration // when the condition started holding
	open       *Alert
	quietUntil time.Duration
}

// step evaluates rule i on what is known at now, which holds from `from`
// on (the same instant for a live result; a segment's start for a segment
// rule).
func (s *Stream) step(i int, r *Rule, act activation, from, now time.Duration) {
	st := &s.states[i]
	holds := s.eval(r, act)
	switch {
	case !holds:
		st.pending = false
		if st.open != nil {
			end := max(from, st.open.Start) // a lagging plugin's older result never ends it before it began
			s.end(st, end)
			st.quietUntil = end + r.Config.Cooldown
		}
	case st.open != nil:
	case from < st.quietUntil:
	default:
		if !st.pending {
			st.pending, st.since = true, from
		}
		st.since = min(st.since, from)
		if now-st.since >= r.Config.For {
			st.pending = false
			s.nextSeq++
			a := Alert{ID: fmt.Sprintf("%s-%s-%d-%d", s.id, r.Config.Name, st.since, s.nextSeq), Rule: r.Config.Name, StreamID: s.id,
				Severity: r.Config.Severity, Message: r.Config.Message, Start: st.since, Fired: now,
				Values: r.values(act), TrackIDs: r.tracks(act.v)}
			if s.anchor != nil {
				if w := s.anchor(); !w.IsZero() {
					a.WallStart = w.Add(st.since)
				}
			}
			st.open = &a
			s.emit(a)
		}
	}
}

func (s *Stream) end(st *state, now time.Duration) {
	a := *st.open
	end := now
	a.End = &end
	if s.anchor != nil {
		if w := s.anchor(); !w.IsZero() {
			we := w.Add(now)
			a.WallEnd = &we
		}
	}
	st.open = nil
	s.emit(a)
}

// eval runs r; a missing value (a plugin that has not reported yet) is
// false, any other run-time error is reported and false.
func (s *Stream) eval(r *Rule, act activation) bool {
	out, _, err := r.prg.Eval(act)
	if err != nil {
		if !missing(err) && s.onErr != nil {
			s.onErr(r.Config.Name, err)
		}
		return false
	}
	b, ok := out.Value().(bool)
	return ok && b
}

// values are the names the rule reads and their values now.
func (r *Rule) values(act activation) map[string]any {
	out := map[string]any{}
	for _, ref := range r.refs {
		v, ok := act.ResolveName(ref[0])
		if !ok {
			continue
		}
		switch m := v.(type) {
		case map[string]float64:
			if x, ok := m[ref[1]]; ok {
				out[ref[0]+"."+ref[1]] = x
			}
		case map[string]any:
			if x, ok := m[ref[1]]; ok {
				out[ref[0]+"."+ref[1]] = x
			}
		}
	}
	for _, l := range r.labels {
		out["objects.count('"+l+"')"] = countLabel(act.v, l, -1)
	}
	return out
}

// tracks are the track ids of the current objects with the labels the
// rule counts.
func (r *Rule) tracks(v *view) []int64 {
	var ids []int64
	for _, objs := range v.objects {
		for _, o := range objs {
			for _, l := range r.labels {
				if o.Label == l && o.TrackID > 0 {
					ids = append(ids, o.TrackID)
				}
			}
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// activation resolves the expression's names from the view.
type activation struct {
	v       *view
	segment map[string]any
}

// Parent is nil: one level of names.
func (a activation) Parent() interpreter.Activation { return nil }

func (a activation) ResolveName(name string) (any, bool) {
	switch name {
	case "objects":
		return objectsVal{a.v}, true
	case "segment":
		return a.segment, a.segment != nil
	}
	if f, ok := a.v.fields[name]; ok {
		return f, true
	}
	if m, ok := a.v.topics[name]; ok {
		return m, true
	}
	return nil, false
}

// objectsVal is the objects variable: the latest objects of the stream.
type objectsVal struct{ v *view }

func (o objectsVal) ConvertToNative(reflect.Type) (any, error) {
	return nil, fmt.Errorf("objects has no native form")
}
func (o objectsVal) ConvertToType(t ref.Type) ref.Val {
	if t == types.TypeType {
		return objectsType
	}
	return types.NewErr("objects cannot be converted to %s", t)
}
func (o objectsVal) Equal(ref.Val) ref.Val { return types.False }
func (o objectsVal) Type() ref.Type        { return objectsType }
func (o objectsVal) Value() any            { return o.v }

func countObjects(obj, label ref.Val) ref.Val {
	o, ok1 := obj.(objectsVal)
	l, ok2 := label.Value().(string)
	if !ok1 || !ok2 {
		return types.NewErr("objects.count(label): want a string label")
	}
	return types.Int(countLabel(o.v, l, -1))
}

func countObjectsInZone(args ...ref.Val) ref.Val {
	o, ok1 := args[0].(objectsVal)
	l, ok2 := args[1].Value().(string)
	z, ok3 := args[2].Value().(string)
	if !ok1 || !ok2 || !ok3 {
		return types.NewErr("objects.count(label, zone): want string arguments")
	}
	for i, zone := range o.v.zones {
		if zone.Name == z {
			return types.Int(countLabel(o.v, l, i))
		}
	}
	return types.NewErr("no zone %q on stream", z)
}

// countLabel counts the latest objects labelled l (inside zone i when i ≥ 0).
func countLabel(v *view, l string, zone int) int {
	n := 0
	for _, objs := range v.objects {
		for _, o := range objs {
			if o.Label != l {
				continue
			}
			if zone >= 0 && !motion.Inside(v.zones[zone].Polygon, float64(o.X+o.W/2), float64(o.Y+o.H/2)) {
				continue
			}
			n++
		}
	}
	return n
}

// family is a topic's family as rules name it: transcript for
// transcript.final@1; partial says the SDK coalesces the topic (a
// .partial, revised until its final).
func family(t string) (fam string, partial bool) {
	name, _, _ := strings.Cut(t, "@")
	fam, _, _ = strings.Cut(name, ".")
	return fam, topic.Topic{Name: name}.Coalesces()
}

// missing tells an evaluation error that only says a value is not there
// yet (no such key, or no such attribute) from a real one.
func missing(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "no such key") || strings.Contains(msg, "no such attribute")
}
