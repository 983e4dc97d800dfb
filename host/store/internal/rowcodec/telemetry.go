package rowcodec

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"sort"
	"strings"

	"github.com/lsie-mlf/lsie/host/model"
)

// Event is a telemetry event ready to write: its time and JSON columns.
type Event struct {
	E                          model.TelemetryEvent
	Time, SourceTime, Received *int64
	RR                         string  // JSON array, "null" when nil
	Payload                    *string // NULL: no payload
}

// EncodeTelemetry checks a batch of events and encodes their columns,
// before a store opens a transaction. It also returns the batch's distinct
// stream ids, sorted, so that a store checks and locks them in one order.
func EncodeTelemetry(evs []model.TelemetryEvent) ([]Event, []string, error) {
	out := make([]Event, len(evs))
	seen := map[string]bool{}
	var streams []string
	for i, ev := range evs {
		if ev.Source == "" || ev.ID == "" || ev.StreamID == "" {
			return nil, nil, fmt.Errorf("insert telemetry: event %d: source %q, id %q and stream id %q must be set",
				i, ev.Source, ev.ID, ev.StreamID)
		}
		where := fmt.Sprintf("insert telemetry: event %s/%s", ev.Source, ev.ID)
		if ev.HeartRate != nil && (math.IsNaN(*ev.HeartRate) || math.IsInf(*ev.HeartRate, 0)) {
			return nil, nil, fmt.Errorf("%s: heart rate %v is not a finite number", where, *ev.HeartRate)
		}
		e := Event{E: ev, Time: UnixNS(ev.Time), SourceTime: UnixNS(ev.SourceTime), Received: UnixNS(ev.ReceivedAt)}
		var err error
		if e.RR, err = JSONText(ev.RR); err != nil {
			return nil, nil, fmt.Errorf("%s: rr intervals: %w", where, err)
		}
		if len(ev.Payload) > 0 {
			if !json.Valid(ev.Payload) {
				return nil, nil, fmt.Errorf("%s: payload is not valid JSON", where)
			}
			p := string(ev.Payload)
			e.Payload = &p
		}
		out[i] = e
		if !seen[ev.StreamID] {
			seen[ev.StreamID] = true
			streams = append(streams, ev.StreamID)
		}
	}
	sort.Strings(streams)
	return out, streams, nil
}

// ScanTelemetry reads source, id, kind, stream_id, time, source_time,
// received_at, subject, hr_bpm, rr_ms (JSON text), experiment, arm, type,
// payload (JSON text or NULL), payload_purged, segment, late.
func ScanTelemetry(sc Scanner) (model.TelemetryEvent, error) {
	var (
		ev                      model.TelemetryEvent
		kind, rr                string
		t, sourceTime, received *int64
		payload                 *string
	)
	if err := sc.Scan(&ev.Source, &ev.ID, &kind, &ev.StreamID, &t, &sourceTime, &received, &ev.Subject,
		&ev.HeartRate, &rr, &ev.Experiment, &ev.Arm, &ev.Type, &payload, &ev.PayloadPurged, &ev.Segment, &ev.Late); err != nil {
		return ev, err
	}
	ev.Kind = model.TelemetryKind(kind)
	ev.Time, ev.SourceTime, ev.ReceivedAt = FromUnixNS(t), FromUnixNS(sourceTime), FromUnixNS(received)
	if payload != nil {
		ev.Payload = json.RawMessage(*payload)
	}
	if err := json.Unmarshal([]byte(rr), &ev.RR); err != nil {
		return ev, fmt.Errorf("telemetry %s/%s: decode rr intervals: %w", ev.Source, ev.ID, err)
	}
	return ev, nil
}

// StreamLockKey is the key of a per-stream lock (PostgreSQL's advisory
// locks take integers). Two streams may share a key: that only makes them
// wait for each other.
func StreamLockKey(streamID string) int32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(streamID))
	return int32(h.Sum32())
}

// ScanArmOutcome reads arm, stream_id, segment, reward, time.
func ScanArmOutcome(sc Scanner) (model.ArmOutcome, error) {
	var (
		o model.ArmOutcome
		t *int64
	)
	if err := sc.Scan(&o.Arm, &o.StreamID, &o.Segment, &o.Reward, &t); err != nil {
		return o, err
	}
	o.Time = FromUnixNS(t)
	return o, nil
}

// ScanSession reads run_id, stream_id, segments, first, last, wall_start,
// wall_end.
func ScanSession(sc Scanner) (model.Session, error) {
	var (
		s          model.Session
		start, end *int64
	)
	if err := sc.Scan(&s.RunID, &s.StreamID, &s.Segments, &s.First, &s.Last, &start, &end); err != nil {
		return s, err
	}
	s.WallStart, s.WallEnd = FromUnixNS(start), FromUnixNS(end)
	return s, nil
}

// TelemetryWhere is the WHERE clause (" WHERE ..." or "") and its arguments
// selecting q's events; ph(n) writes the dialect's n-th placeholder, from 1.
// Only set fields become conditions, so each filter can use its index.
func TelemetryWhere(q model.TelemetryQuery, ph func(n int) string) (string, []any) {
	var (
		conds []string
		args  []any
	)
	add := func(cond string, arg any) {
		args = append(args, arg)
		conds = append(conds, fmt.Sprintf(cond, ph(len(args))))
	}
	if q.StreamID != "" {
		add("stream_id = %s", q.StreamID)
	}
	if q.Kind != "" {
		add("kind = %s", string(q.Kind))
	}
	if q.Subject != "" {
		add("subject = %s", q.Subject)
	}
	if q.Experiment != "" {
		add("experiment = %s", q.Experiment)
	}
	if !q.From.IsZero() {
		add("time >= %s", *UnixNS(q.From))
	}
	if !q.To.IsZero() {
		add("time < %s", *UnixNS(q.To))
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}
