// Package rowcodec is what the SQLite and PostgreSQL stores share: how
// model values become column values and back, with the same checks and
// messages, so the one contract suite (storetest) holds for both. The SQL
// text stays with each store; only the column order, which each store's
// queries keep, is shared, and the WHERE clause of a telemetry query, which
// differs between the dialects only in its placeholders.
package rowcodec

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
)

// Scanner is one row of either driver: *sql.Row, *sql.Rows, pgx.Row,
// pgx.Rows. Both scan SQL NULL into a nil **T.
type Scanner interface{ Scan(dest ...any) error }

// UnixNS encodes t as unix nanoseconds; the zero time is NULL (nil), since
// its UnixNano is out of range.
func UnixNS(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	ns := t.UnixNano()
	return &ns
}

// FromUnixNS decodes what UnixNS encoded, in UTC.
func FromUnixNS(v *int64) time.Time {
	if v == nil {
		return time.Time{}
	}
	return time.Unix(0, *v).UTC()
}

// JSONText encodes v for a JSON column. nil encodes as "null", so a nil
// slice or map comes back nil and an empty one comes back empty. It is
// passed as a string: pgx sends a string to a json/jsonb parameter as the
// JSON text itself, SQLite stores it as TEXT.
func JSONText(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// Plugin is a PluginSegment with its JSON columns encoded.
type Plugin struct {
	Name       string
	P          model.PluginSegment
	Aggregates string
	Fields     []string // per item
	// Objects is P.Objects (the stats) as JSON; ObjectRows the items'
	// objects, one row each.
	Objects    string
	ObjectRows []ObjectRow
}

// Segment is a segment ready to write: the context for errors, and its
// JSON columns.
type Segment struct {
	Where   string // "save segment STREAM/INDEX"
	Reasons string
	Plugins []Plugin // by name
	// Analytics is seg.Analytics as JSON ("null" when nil); Reward copies
	// its Reward into a column of its own, which ArmOutcomes joins on.
	Analytics string
	Reward    *float64
}

// EncodeSegment checks seg and encodes its JSON columns, before a store
// takes any lock. Its errors wrap store.ErrInvalid: the segment itself is
// at fault, and saving it again would fail again.
func EncodeSegment(runID string, seg model.Segment) (Segment, error) {
	e, err := encodeSegment(runID, seg)
	return e, Invalid(err)
}

func encodeSegment(runID string, seg model.Segment) (Segment, error) {
	e := Segment{Where: fmt.Sprintf("save segment %s/%d", seg.StreamID, seg.Index)}
	if seg.StreamID == "" || runID == "" {
		return e, fmt.Errorf("%s: stream id %q and run id %q must be set", e.Where, seg.StreamID, runID)
	}
	var err error
	if e.Reasons, err = JSONText(seg.Reasons); err != nil {
		return e, fmt.Errorf("%s: reasons: %w", e.Where, err)
	}
	if e.Plugins, err = encodePlugins(seg.Plugins); err != nil {
		return e, fmt.Errorf("%s: %w", e.Where, err)
	}
	if e.Analytics, err = JSONText(seg.Analytics); err != nil {
		return e, fmt.Errorf("%s: analytics: %w", e.Where, err)
	}
	if seg.Analytics != nil {
		e.Reward = seg.Analytics.Reward
	}
	return e, nil
}

func encodePlugins(plugins map[string]model.PluginSegment) ([]Plugin, error) {
	out := make([]Plugin, 0, len(plugins))
	for name, p := range plugins {
		if name == "" {
			return nil, errors.New("plugin with an empty name")
		}
		if p.Plugin != "" && p.Plugin != name {
			return nil, fmt.Errorf("plugin %q stored under key %q", p.Plugin, name)
		}
		e := Plugin{Name: name, P: p, Fields: make([]string, len(p.Items))}
		var err error
		if e.Aggregates, err = JSONText(p.Aggregates); err != nil {
			return nil, fmt.Errorf("plugin %q: aggregates: %w", name, err)
		}
		if e.Objects, err = JSONText(p.Objects); err != nil {
			return nil, fmt.Errorf("plugin %q: object stats: %w", name, err)
		}
		if e.ObjectRows, err = encodeObjects(0, p.Items); err != nil {
			return nil, fmt.Errorf("plugin %q: %w", name, err)
		}
		for i, it := range p.Items {
			if e.Fields[i], err = JSONText(it.Fields); err != nil {
				return nil, fmt.Errorf("plugin %q: item %d (pts %s): fields: %w", name, i, it.PTS, err)
			}
			if len(it.Payload) > 0 && !json.Valid(it.Payload) {
				return nil, fmt.Errorf("plugin %q: item %d (pts %s): payload is not valid JSON", name, i, it.PTS)
			}
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ScanStream reads id, source, health, hint, plugins (JSON text),
// started_at.
func ScanStream(sc Scanner) (model.Stream, error) {
	var (
		s       model.Stream
		health  string
		plugins string
		started *int64
	)
	if err := sc.Scan(&s.ID, &s.Source, &health, &s.Hint, &plugins, &started); err != nil {
		return s, err
	}
	s.Health = model.Health(health)
	s.StartedAt = FromUnixNS(started)
	if err := json.Unmarshal([]byte(plugins), &s.Plugins); err != nil {
		return s, fmt.Errorf("stream %q: decode plugins: %w", s.ID, err)
	}
	return s, nil
}

// ScanPluginRun reads run_id, stream_id, plugin, version, sha256, path,
// started.
func ScanPluginRun(sc Scanner) (model.PluginRun, error) {
	var (
		r       model.PluginRun
		started *int64
	)
	if err := sc.Scan(&r.RunID, &r.StreamID, &r.Plugin, &r.Version, &r.SHA256, &r.Path, &started); err != nil {
		return r, err
	}
	r.Started = FromUnixNS(started)
	return r, nil
}

// ScanSegment reads id, stream_id, idx, run_id, media_start_ns,
// media_end_ns, wall_start, wall_end, status, reasons (JSON text), frames_seen,
// frames_dropped, closed_at, close_latency_ns, audio_seconds,
// audio_gap_seconds, analytics (JSON text); Plugins is an empty map.
func ScanSegment(sc Scanner) (int64, model.Segment, error) {
	var (
		id                         int64
		seg                        model.Segment
		mediaStart, mediaEnd, lat  int64
		wallStart, wallEnd, closed *int64
		status, reasons, analytics string
	)
	err := sc.Scan(&id, &seg.StreamID, &seg.Index, &seg.RunID, &mediaStart, &mediaEnd, &wallStart, &wallEnd,
		&status, &reasons, &seg.FramesSeen, &seg.FramesDropped, &closed, &lat, &seg.AudioSeconds, &seg.AudioGapSeconds,
		&analytics)
	if err != nil {
		return 0, seg, err
	}
	seg.MediaStart, seg.MediaEnd = time.Duration(mediaStart), time.Duration(mediaEnd)
	seg.WallStart, seg.WallEnd = FromUnixNS(wallStart), FromUnixNS(wallEnd)
	seg.Status = model.SegmentStatus(status)
	seg.ClosedAt = FromUnixNS(closed)
	seg.CloseLatency = time.Duration(lat)
	seg.Plugins = map[string]model.PluginSegment{}
	if err := json.Unmarshal([]byte(reasons), &seg.Reasons); err != nil {
		return 0, seg, fmt.Errorf("segment %s/%d: decode reasons: %w", seg.StreamID, seg.Index, err)
	}
	if err := json.Unmarshal([]byte(analytics), &seg.Analytics); err != nil {
		return 0, seg, fmt.Errorf("segment %s/%d: decode analytics: %w", seg.StreamID, seg.Index, err)
	}
	return id, seg, nil
}

// ScanPlugin reads segment_id, plugin, version, frames_analysed,
// frames_skipped, errors, aggregates (JSON text), status, audio_seconds,
// audio_dropped_seconds, messages, text_dropped, late_items, objects (JSON
// text), published, frames_gated.
func ScanPlugin(sc Scanner) (int64, model.PluginSegment, error) {
	var (
		segID      int64
		p          model.PluginSegment
		aggs, objs string
	)
	if err := sc.Scan(&segID, &p.Plugin, &p.Version, &p.FramesAnalysed, &p.FramesSkipped, &p.Errors, &aggs,
		&p.Status, &p.AudioSeconds, &p.AudioDroppedSeconds, &p.Messages, &p.TextDropped, &p.LateItems, &objs, &p.Published, &p.FramesGated); err != nil {
		return 0, p, err
	}
	if err := json.Unmarshal([]byte(aggs), &p.Aggregates); err != nil {
		return 0, p, fmt.Errorf("plugin %q: decode aggregates: %w", p.Plugin, err)
	}
	if err := json.Unmarshal([]byte(objs), &p.Objects); err != nil {
		return 0, p, fmt.Errorf("plugin %q: decode object stats: %w", p.Plugin, err)
	}
	return segID, p, nil
}

// ScanItem reads plugin, pts_ns, duration_ns, fields (JSON text), error,
// topic, text, payload (JSON text; NULL or empty when there is none), late
// and appends the item to its plugin in seg.
func ScanItem(sc Scanner, seg *model.Segment) error {
	var (
		plugin, fields string
		payload        *string
		pts, dur       int64
		it             model.Item
	)
	if err := sc.Scan(&plugin, &pts, &dur, &fields, &it.Error, &it.Topic, &it.Text, &payload, &it.Late); err != nil {
		return err
	}
	it.PTS, it.Duration = time.Duration(pts), time.Duration(dur)
	if payload != nil && *payload != "" {
		it.Payload = json.RawMessage(*payload)
	}
	if err := json.Unmarshal([]byte(fields), &it.Fields); err != nil {
		return fmt.Errorf("items of %q: decode fields: %w", plugin, err)
	}
	p := seg.Plugins[plugin]
	p.Items = append(p.Items, it)
	seg.Plugins[plugin] = p
	return nil
}

// Rows is a result set as both drivers offer it (database/sql and pgx),
// less Close, whose signatures differ: the caller defers it.
type Rows interface {
	Scanner
	Next() bool
	Err() error
}

// Collect scans every row of rows with scan, in order: an empty, non-nil
// slice when there are none.
func Collect[T any](rows Rows, scan func(Scanner) (T, error)) ([]T, error) {
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Segments are segments read in order, found again by their row ids.
type Segments struct {
	List []model.Segment
	byID map[int64]int // row id -> index in List
}

// IDs returns the segments' row ids.
func (s *Segments) IDs() []int64 {
	ids := make([]int64, 0, len(s.byID))
	for id := range s.byID {
		ids = append(ids, id)
	}
	return ids
}

// ByID returns the segment of row id, or nil (AttachPlugins' lookup).
func (s *Segments) ByID(id int64) *model.Segment {
	if i, ok := s.byID[id]; ok {
		return &s.List[i]
	}
	return nil
}

// CollectSegments reads segment rows (ScanSegment) in order.
func CollectSegments(rows Rows) (*Segments, error) {
	s := &Segments{List: []model.Segment{}, byID: map[int64]int{}}
	for rows.Next() {
		id, seg, err := ScanSegment(rows)
		if err != nil {
			return nil, err
		}
		s.byID[id] = len(s.List)
		s.List = append(s.List, seg)
	}
	return s, rows.Err()
}

// AttachPlugins reads segment_plugins rows (ScanPlugin) into the segment
// that segment returns for each row's segment id; nil skips the row.
func AttachPlugins(rows Rows, segment func(id int64) *model.Segment) error {
	for rows.Next() {
		id, p, err := ScanPlugin(rows)
		if err != nil {
			return err
		}
		if s := segment(id); s != nil {
			s.Plugins[p.Plugin] = p
		}
	}
	return rows.Err()
}

// AttachItems reads segment_items rows (ScanItem) into seg.
func AttachItems(rows Rows, seg *model.Segment) error {
	for rows.Next() {
		if err := ScanItem(rows, seg); err != nil {
			return err
		}
	}
	return rows.Err()
}
