package rowcodec

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
)

// ObjectRow is one object ready to write: its item's position and times,
// and its JSON columns.
type ObjectRow struct {
	ItemSeq       int64
	PTS, Duration int64
	O             model.Object
	Attributes    string
	Keypoints     string
	Late          bool
}

// encodeObjects encodes the objects of items, the first of which is at
// position base in its plugin's list. Numbers must be finite (JSON and the
// API have no NaN): the host checked them on arrival; this is the store's
// own guard.
func encodeObjects(base int64, items []model.Item) ([]ObjectRow, error) {
	var out []ObjectRow
	for i, it := range items {
		for j, o := range it.Objects {
			for _, v := range [...]float64{o.Score, o.X, o.Y, o.W, o.H} {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return nil, fmt.Errorf("item %d (pts %s): object %d: non-finite number", i, it.PTS, j)
				}
			}
			r := ObjectRow{ItemSeq: base + int64(i), PTS: int64(it.PTS), Duration: int64(it.Duration), O: o, Late: it.Late}
			var err error
			if r.Attributes, err = JSONText(o.Attributes); err != nil {
				return nil, fmt.Errorf("item %d (pts %s): object %d: attributes: %w", i, it.PTS, j, err)
			}
			if r.Keypoints, err = JSONText(o.Keypoints); err != nil {
				return nil, fmt.Errorf("item %d (pts %s): object %d: keypoints: %w", i, it.PTS, j, err)
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// ObjectWall is the wall time of media time pts in a segment that starts at
// wallStart (unix ns, nil when unknown) and mediaStart: NULL when the
// segment has no wall time.
func ObjectWall(wallStart *int64, mediaStart, pts int64) *int64 {
	if wallStart == nil {
		return nil
	}
	w := *wallStart + (pts - mediaStart)
	return &w
}

// ObjectColumns are what ScanObject reads, with the segment as s and the
// object as o.
const ObjectColumns = `s.stream_id, s.idx, s.run_id, o.plugin, o.pts_ns, o.duration_ns, o.wall_ns, o.label, o.score,
	o.track_id, o.x, o.y, o.w, o.h, o.attributes, o.keypoints, o.text, o.late`

// ScanObject reads ObjectColumns.
func ScanObject(sc Scanner) (model.ObjectRecord, error) {
	var (
		r          model.ObjectRecord
		pts, dur   int64
		wall       *int64
		attrs, kps string
	)
	o := &r.Object
	if err := sc.Scan(&r.StreamID, &r.Index, &r.RunID, &r.Plugin, &pts, &dur, &wall, &o.Label, &o.Score,
		&o.TrackID, &o.X, &o.Y, &o.W, &o.H, &attrs, &kps, &o.Text, &r.Late); err != nil {
		return r, err
	}
	r.PTS, r.Duration = time.Duration(pts), time.Duration(dur)
	r.Wall = FromUnixNS(wall)
	if err := json.Unmarshal([]byte(attrs), &o.Attributes); err != nil {
		return r, fmt.Errorf("object of %q: decode attributes: %w", r.Plugin, err)
	}
	if err := json.Unmarshal([]byte(kps), &o.Keypoints); err != nil {
		return r, fmt.Errorf("object of %q: decode keypoints: %w", r.Plugin, err)
	}
	return r, nil
}
