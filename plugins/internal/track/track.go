// Package track gives the detections of one stream stable ids across its
// frames: greedy IoU matching against a constant-velocity prediction, per
// label. The au plugin tracks faces with it, detect every COCO object.
//
// Each frame, every (track, detection) pair of the same label whose IoU
// with the track's predicted box reaches Config.IoUThreshold is a
// candidate; candidates are taken best IoU first, each track and detection
// at most once. A matched track takes the detection's box; an unmatched
// detection starts a track with the next id (ids start at 1 and only
// increase across all labels, so an id is never reused within a Tracker
// and names one object of one label); a track unmatched for MaxMissed
// consecutive frames ends. The prediction shifts the last box by the
// track's smoothed per-frame velocity (also while it is missed), so objects
// that cross or are briefly hidden keep their ids when they move steadily.
package track

import "slices"

// Defaults.
const (
	DefaultIoUThreshold = 0.3
	DefaultMaxMissed    = 5
)

// velocitySmoothing is the weight of the newest displacement in a track's
// velocity: halfway, so one jittery detection moves the prediction little.
const velocitySmoothing = 0.5

// Box is an axis-aligned box: X0, Y0 its top left, X1, Y1 its bottom right
// corner, in any unit the caller keeps to (pixels, normalised).
type Box struct{ X0, Y0, X1, Y1 float32 }

// W is the box's width.
func (b Box) W() float32 { return b.X1 - b.X0 }

// H is the box's height.
func (b Box) H() float32 { return b.Y1 - b.Y0 }

// Center is the box's centre.
func (b Box) Center() (x, y float32) { return (b.X0 + b.X1) / 2, (b.Y0 + b.Y1) / 2 }

// IoU is the intersection over union of a and b: 0 for boxes that do not
// overlap, are empty, or are not finite.
func IoU(a, b Box) float32 {
	iw := min(a.X1, b.X1) - max(a.X0, b.X0)
	ih := min(a.Y1, b.Y1) - max(a.Y0, b.Y0)
	if !(iw > 0 && ih > 0) {
		return 0
	}
	inter := iw * ih
	union := a.W()*a.H() + b.W()*b.H() - inter
	if !(union > 0) {
		return 0
	}
	v := inter / union
	if !(v >= 0 && v <= 1) {
		return 0
	}
	return v
}

// Detection is one object found in a frame.
type Detection struct {
	Box   Box
	Label string // only detections of a track's label continue it
}

// Config sets a Tracker; zero fields take the defaults.
type Config struct {
	// IoUThreshold is the least IoU for a detection to continue a track (0.3).
	IoUThreshold float32
	// MaxMissed is K: a track ends after K consecutive frames without a
	// detection (5), so it survives K-1 missed frames.
	MaxMissed int
	// NoPrediction matches against the last box itself, without velocity.
	NoPrediction bool
}

// Track is one tracked object.
type Track struct {
	ID     int
	Label  string
	Box    Box     // the last matched detection
	Hits   int     // frames matched
	Missed int     // consecutive frames unmatched
	vx, vy float32 // smoothed centre velocity, units per frame
}

// Predicted is where the track expects its object in the next frame.
func (t *Track) Predicted() Box {
	dx, dy := t.vx*float32(t.Missed+1), t.vy*float32(t.Missed+1)
	return Box{X0: t.Box.X0 + dx, Y0: t.Box.Y0 + dy, X1: t.Box.X1 + dx, Y1: t.Box.Y1 + dy}
}

// Tracker tracks the objects of one stream. Not safe for concurrent use.
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
func (tr *Tracker) Update(dets []Detection) (ids, ended []int) {
	tr.pairs = tr.pairs[:0]
	for ti, t := range tr.tracks {
		pb := t.Box
		if !tr.cfg.NoPrediction {
			pb = t.Predicted()
		}
		for di, d := range dets {
			if d.Label != t.Label {
				continue
			}
			// IoU is 0 for empty or NaN boxes, so they never match.
			if v := IoU(pb, d.Box); v >= tr.cfg.IoUThreshold {
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
		ox, oy := t.Box.Center()
		nx, ny := dets[p.di].Box.Center()
		steps := float32(t.Missed + 1)
		vx, vy := (nx-ox)/steps, (ny-oy)/steps
		if t.Hits == 1 {
			t.vx, t.vy = vx, vy // first displacement: nothing to smooth with
		} else {
			t.vx += velocitySmoothing * (vx - t.vx)
			t.vy += velocitySmoothing * (vy - t.vy)
		}
		t.Box = dets[p.di].Box
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
		t := &Track{ID: tr.nextID, Label: d.Label, Box: d.Box, Hits: 1}
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
