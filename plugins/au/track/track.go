// Package track gives face detections stable ids across the frames of one
// stream by greedy IoU matching.
//
// Each frame, every (track, detection) pair whose IoU with the track's
// predicted box reaches Config.IoUThreshold is a candidate; candidates are
// taken best IoU first, each track and detection at most once. A matched
// track takes the detection's box; an unmatched detection starts a track
// with the next id (ids start at 1 and only increase, so an id is never
// reused within a Tracker); a track unmatched for MaxMissed consecutive
// frames ends. The prediction shifts the last box by the track's smoothed
// per-frame velocity (also while it is missed), so faces that cross or are
// briefly hidden keep their ids when they move steadily.
package track

import (
	"slices"

	"github.com/lsie-mlf/lsie/plugins/au/internal/img"
)

// Defaults.
const (
	DefaultIoUThreshold = 0.3
	DefaultMaxMissed    = 5
)

// velocitySmoothing is the weight of the newest displacement in a track's
// velocity: halfway, so one jittery detection moves the prediction little.
const velocitySmoothing = 0.5

// Config sets a Tracker; zero fields take the defaults.
type Config struct {
	// IoUThreshold is the least IoU for a detection to continue a track (0.3).
	IoUThreshold float32
	// MaxMissed is K: a track ends after K consecutive frames without a
	// detection (5).
	MaxMissed int
	// NoPrediction matches against the last box itself, without velocity.
	NoPrediction bool
}

// Track is one tracked face.
type Track struct {
	ID     int
	Box    img.Rect // the last matched detection
	Hits   int      // frames matched
	Missed int      // consecutive frames unmatched
	vx, vy float32  // smoothed centre velocity, px per frame
}

// Predicted is where the track expects its face in the next frame.
func (t *Track) Predicted() img.Rect {
	dx, dy := t.vx*float32(t.Missed+1), t.vy*float32(t.Missed+1)
	return img.Rect{X0: t.Box.X0 + dx, Y0: t.Box.Y0 + dy, X1: t.Box.X1 + dx, Y1: t.Box.Y1 + dy}
}

// Tracker tracks the faces of one stream. Not safe for concurrent use.
type Tracker struct {
	cfg    Config
	tracks []*Track
	nextID int
	pairs  []pair
	ended  []int
}

type pair struct {
	iou    float32
	ti, di int
}

// New makes a Tracker.
func New(cfg Config) *Tracker {
	if !(cfg.IoUThreshold > 0) {
		cfg.IoUThreshold = DefaultIoUThreshold
	}
	if cfg.MaxMissed <= 0 {
		cfg.MaxMissed = DefaultMaxMissed
	}
	return &Tracker{cfg: cfg, nextID: 1}
}

// Update takes one frame's detections and returns each one's track id (in
// detection order) and the ids of tracks that ended this frame; ended is
// reused by the next Update.
func (tr *Tracker) Update(dets []img.Rect) (ids, ended []int) {
	tr.pairs = tr.pairs[:0]
	for ti, t := range tr.tracks {
		var pb img.Rect
		if tr.cfg.NoPrediction {
			pb = t.Box
		} else {
			pb = t.Predicted()
		}
		for di, d := range dets {
			// IoU is 0 for empty or NaN boxes, so they never match.
			if v := img.IoU(pb, d); v >= tr.cfg.IoUThreshold {
				tr.pairs = append(tr.pairs, pair{v, ti, di})
			}
		}
	}
	// Best IoU first; ties by older track, then earlier detection, so the
	// result does not depend on sort stability.
	slices.SortFunc(tr.pairs, func(a, b pair) int {
		switch {
		case a.iou != b.iou:
			if a.iou > b.iou {
				return -1
			}
			return 1
		case a.ti != b.ti:
			return a.ti - b.ti
		default:
			return a.di - b.di
		}
	})

	ids = make([]int, len(dets))
	matched := make([]bool, len(tr.tracks))
	for _, p := range tr.pairs {
		if matched[p.ti] || ids[p.di] != 0 {
			continue
		}
		matched[p.ti] = true
		t := tr.tracks[p.ti]
		oc, nc := t.Box.Center(), dets[p.di].Center()
		steps := float32(t.Missed + 1)
		vx, vy := (nc.X-oc.X)/steps, (nc.Y-oc.Y)/steps
		if t.Hits == 1 {
			t.vx, t.vy = vx, vy // first displacement: nothing to smooth with
		} else {
			t.vx += velocitySmoothing * (vx - t.vx)
			t.vy += velocitySmoothing * (vy - t.vy)
		}
		t.Box = dets[p.di]
		t.Hits++
		t.Missed = 0
		ids[p.di] = t.ID
	}

	tr.ended = tr.ended[:0]
	kept := tr.tracks[:0]
	for i, t := range tr.tracks {
		if !matched[i] {
			t.Missed++
			if t.Missed >= tr.cfg.MaxMissed {
				tr.ended = append(tr.ended, t.ID)
				continue
			}
		}
		kept = append(kept, t)
	}
	clear(tr.tracks[len(kept):])
	tr.tracks = kept

	for di, d := range dets {
		if ids[di] != 0 {
			continue
		}
		t := &Track{ID: tr.nextID, Box: d, Hits: 1}
		tr.nextID++
		tr.tracks = append(tr.tracks, t)
		ids[di] = t.ID
	}
	return ids, tr.ended
}

// Tracks are the live tracks, oldest first (copies).
func (tr *Tracker) Tracks() []Track {
	out := make([]Track, len(tr.tracks))
	for i, t := range tr.tracks {
		out[i] = *t
	}
	return out
}
