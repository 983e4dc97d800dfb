package aus

import (
	"time"

	"github.com/lsie-mlf/lsie/plugins/au/internal/img"
)

// Config sets the per-face baselines of an Estimator.
type Config struct {
	// BaselineWindow is how long from a face's first frame its neutral
	// baseline accumulates (default 10 s).
	BaselineWindow time.Duration
	// BaselineMinFrames is the fewest frames a baseline completes with
	// (default 10); a face seen less stays uncorrected past the window.
	BaselineMinFrames int
}

// Estimator estimates AUs for the faces of one stream, keeping a baseline
// per face id (the ids of package track). Not safe for concurrent use.
type Estimator struct {
	cfg   Config
	faces map[int]*Baseline
}

// New makes an Estimator.
func New(cfg Config) *Estimator {
	return &Estimator{cfg: cfg, faces: map[int]*Baseline{}}
}

func (e *Estimator) baseline(face int) *Baseline {
	b := e.faces[face]
	if b == nil {
		b = NewBaseline(e.cfg.BaselineWindow, e.cfg.BaselineMinFrames)
		e.faces[face] = b
	}
	return b
}

// Estimate measures face's landmarks at stream time t. A usable frame feeds
// the face's baseline while it accumulates; corrected intensities appear
// from the frame the baseline completes on.
func (e *Estimator) Estimate(face int, t time.Duration, pts *[68]img.Point) Result {
	b := e.baseline(face)
	n, ok := b.Neutral()
	if ok {
		return Estimate(pts, &n)
	}
	r := Estimate(pts, nil)
	if r.OK() && b.Add(t, &r.G) {
		n, _ = b.Neutral()
		r.HasCorrected = true
		for a := AU(0); a < NumAU; a++ {
			r.Corrected[a] = intensity(a, r.G[a], n.G[a])
		}
	}
	return r
}

// SetBaseline makes face's baseline at once from the given frames' landmarks
// (unusable frames are skipped), replacing what it had.
func (e *Estimator) SetBaseline(face int, frames [][68]img.Point) error {
	gs := make([][NumAU]float64, 0, len(frames))
	for i := range frames {
		if g, flags := Measure(&frames[i]); flags == 0 {
			gs = append(gs, g)
		}
	}
	return e.baseline(face).Set(gs)
}

// SetNeutral installs a known baseline for face.
func (e *Estimator) SetNeutral(face int, n Neutral) { e.baseline(face).SetNeutral(n) }

// Neutral is face's completed baseline, if any.
func (e *Estimator) Neutral(face int) (Neutral, bool) {
	if b := e.faces[face]; b != nil {
		return b.Neutral()
	}
	return Neutral{}, false
}

// Forget drops face's baseline, e.g. when its track ends.
func (e *Estimator) Forget(face int) { delete(e.faces, face) }
