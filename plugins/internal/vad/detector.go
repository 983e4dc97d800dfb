package vad

// Prober scores windows; *Model is one, tests use others.
type Prober interface {
	Prob(window []float32) (float32, error)
	Reset()
}

// Detector runs a Prober and a Segmenter over a stream's samples as they
// arrive in chunks of any length.
type Detector struct {
	prober Prober
	seg    *Segmenter
	win    []float32 // the window being filled
	// Probs, when not nil, receives every window's probability (tests,
	// benchmarks).
	Probs  func(start int64, p float32)
	events []Event
}

// NewDetector returns a Detector whose first window starts at sample first.
func NewDetector(p Prober, cfg Config, first int64) *Detector {
	return &Detector{prober: p, seg: NewSegmenter(cfg, first), win: make([]float32, 0, WindowSamples)}
}

// Segmenter gives access to the segmentation state (Pending, Position).
func (d *Detector) Segmenter() *Segmenter { return d.seg }

// Next is the sample after the last one pushed.
func (d *Detector) Next() int64 { return d.seg.Position() + int64(len(d.win)) }

// Push adds the samples that follow the last ones pushed and returns the
// boundaries decided (valid until the next call). On a model error the
// events decided before it are returned with it.
func (d *Detector) Push(pcm []int16) ([]Event, error) {
	d.events = d.events[:0]
	for len(pcm) > 0 {
		n := min(len(pcm), WindowSamples-len(d.win))
		for _, v := range pcm[:n] {
			d.win = append(d.win, float32(v)/32768)
		}
		pcm = pcm[n:]
		if len(d.win) < WindowSamples {
			break
		}
		if err := d.window(); err != nil {
			return d.events, err
		}
	}
	return d.events, nil
}

func (d *Detector) window() error {
	start := d.seg.Position()
	p, err := d.prober.Prob(d.win)
	d.win = d.win[:0]
	if err != nil {
		return err
	}
	if d.Probs != nil {
		d.Probs(start, p)
	}
	d.events = append(d.events, d.seg.Push(p)...)
	return nil
}

// Flush scores the incomplete last window (zero-padded) and ends open
// speech at the last sample pushed: the end of the stream, or of the audio
// before a gap.
func (d *Detector) Flush() ([]Event, error) {
	d.events = d.events[:0]
	end := d.Next()
	var err error
	if len(d.win) > 0 {
		for len(d.win) < WindowSamples {
			d.win = append(d.win, 0)
		}
		err = d.window()
	}
	d.events = append(d.events, d.seg.Flush(end)...)
	return d.events, err
}

// Reset restarts detection at sample first, forgetting the model's history
// (the audio before a gap says nothing about the audio after it). Flush
// first.
func (d *Detector) Reset(first int64) {
	d.win = d.win[:0]
	d.prober.Reset()
	d.seg.Reset(first)
}

// Pending returns the earliest sample an utterance not yet ended may start
// at, counting samples still waiting to fill a window.
func (d *Detector) Pending() int64 { return d.seg.Pending() }
