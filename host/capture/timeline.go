package capture

import (
	"math"
	"sync"
	"time"
)

// dims is a raw video size with its pixel aspect ratio.
type dims struct{ W, H, ParN, ParD int }

// outputSize returns the analysis frame size for a source of size d: square
// pixels, at most maxWidth wide (0 = no limit), never wider than the source's
// display width, both sides even, display aspect kept.
func outputSize(d dims, maxWidth int) (int, int) {
	parN, parD := d.ParN, d.ParD
	if parN <= 0 || parD <= 0 {
		parN, parD = 1, 1
	}
	dispW := float64(d.W) * float64(parN) / float64(parD)
	if dispW < 2 || d.H < 2 {
		return evenAtLeast2(int(math.Round(dispW))), evenAtLeast2(d.H)
	}
	w := int(math.Round(dispW))
	if maxWidth > 0 && w > maxWidth {
		w = maxWidth
	}
	w = evenAtLeast2(w &^ 1)
	h := int(math.Round(float64(d.H)*float64(w)/dispW/2)) * 2
	return w, evenAtLeast2(h)
}

func evenAtLeast2(v int) int {
	v &^= 1
	if v < 2 {
		return 2
	}
	return v
}

// timeline maps GStreamer running time onto the stream's media time line
// (Contract 0): media = running + offset, where offset grows by the played
// length of each pass of a looping file so media time never goes back.
type timeline struct {
	period time.Duration // one analysis frame period

	mu         sync.Mutex
	offset     time.Duration // added to running time in the current pass
	passEnd    time.Duration // running time reached in the current pass (last frame end)
	haveFrame  bool
	lastPTS    time.Duration // media time of the last accepted frame
	progress   time.Duration // last progress reported
	loops      int
	frames     uint64
	discarded  uint64
	lastWidth  int
	lastHeight int
}

// frame maps a frame's running time to media time. ok is false when the frame
// would not move the time line forward; the frame must then be discarded.
func (t *timeline) frame(running time.Duration, w, h int) (pts time.Duration, seq uint64, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	pts = t.offset + running
	if t.haveFrame && pts <= t.lastPTS || pts < t.progress {
		t.discarded++
		return pts, 0, false
	}
	seq = t.frames
	t.frames++
	t.haveFrame = true
	t.lastPTS = pts
	t.lastWidth, t.lastHeight = w, h
	if end := running + t.period; end > t.passEnd {
		t.passEnd = end
	}
	return pts, seq, true
}

// discard counts a frame dropped before it reached the time line.
func (t *timeline) discard() {
	t.mu.Lock()
	t.discarded++
	t.mu.Unlock()
}

// advance records that the time line has reached p; it reports whether that
// moved progress forward (and so should be reported).
func (t *timeline) advance(p time.Duration) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p <= t.progress {
		return false
	}
	t.progress = p
	return true
}

// end closes the current pass at EOS. played is the pass length the pipeline
// reports (its duration; 0 if unknown); the pass is at least as long as its
// last frame's end. It returns the media time the time line has reached.
func (t *timeline) end(played time.Duration) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if played < t.passEnd {
		played = t.passEnd
	}
	reached := t.offset + played
	if reached < t.progress {
		reached = t.progress
	}
	return reached
}

// seam starts a new pass whose running time restarts at 0 from media time
// reached (as returned by end).
func (t *timeline) seam(reached time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.offset = reached
	t.passEnd = 0
	t.loops++
}

func (t *timeline) stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return Stats{
		Frames:    t.frames,
		Discarded: t.discarded,
		Loops:     t.loops,
		LastPTS:   t.lastPTS,
		Progress:  t.progress,
		Width:     t.lastWidth,
		Height:    t.lastHeight,
	}
}
