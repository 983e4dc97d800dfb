package rowcodec

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
)

// AlertColumns are the alerts table's columns in ScanAlert's order.
const AlertColumns = `id, rule, stream_id, severity, message, start_ns, fired_ns, end_ns, wall_start, wall_end, alert_values, track_ids`

// Alert is an alert's nullable and JSON columns, encoded.
type Alert struct {
	End              *int64
	WallStart        *int64
	WallEnd          *int64
	Values, TrackIDs string
}

// EncodeAlert encodes a's nullable and JSON columns.
func EncodeAlert(a model.Alert) (Alert, error) {
	if a.ID == "" || a.Rule == "" || a.StreamID == "" {
		return Alert{}, fmt.Errorf("alert %q: id, rule and stream are required", a.ID)
	}
	e := Alert{WallStart: UnixNS(a.WallStart)}
	if a.End != nil {
		v := int64(*a.End)
		e.End = &v
	}
	if a.WallEnd != nil {
		e.WallEnd = UnixNS(*a.WallEnd)
	}
	var err error
	if e.Values, err = JSONText(a.Values); err != nil {
		return Alert{}, fmt.Errorf("alert %q: values: %w", a.ID, err)
	}
	if e.TrackIDs, err = JSONText(a.TrackIDs); err != nil {
		return Alert{}, fmt.Errorf("alert %q: track ids: %w", a.ID, err)
	}
	return e, nil
}

// ScanAlert reads AlertColumns.
func ScanAlert(sc Scanner) (model.Alert, error) {
	var a model.Alert
	var start, fired int64
	var end, wallStart, wallEnd *int64
	var values, tracks string
	if err := sc.Scan(&a.ID, &a.Rule, &a.StreamID, &a.Severity, &a.Message, &start, &fired, &end, &wallStart, &wallEnd,
		&values, &tracks); err != nil {
		return a, err
	}
	a.Start, a.Fired = time.Duration(start), time.Duration(fired)
	if end != nil {
		d := time.Duration(*end)
		a.End = &d
	}
	a.WallStart = FromUnixNS(wallStart)
	if wallEnd != nil {
		t := FromUnixNS(wallEnd)
		a.WallEnd = &t
	}
	if err := json.Unmarshal([]byte(values), &a.Values); err != nil {
		return a, fmt.Errorf("alert %q: values: %w", a.ID, err)
	}
	if err := json.Unmarshal([]byte(tracks), &a.TrackIDs); err != nil {
		return a, fmt.Errorf("alert %q: track ids: %w", a.ID, err)
	}
	return a, nil
}

// ScanStoredRule reads name, spec, added_at.
func ScanStoredRule(sc Scanner) (model.StoredRule, error) {
	var r model.StoredRule
	var at *int64
	err := sc.Scan(&r.Name, &r.Spec, &at)
	r.AddedAt = FromUnixNS(at)
	return r, err
}
