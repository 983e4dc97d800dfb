package host

import (
	"fmt"
	"time"

	"github.com/lsie-mlf/lsie/host/capture"
	"github.com/lsie-mlf/lsie/host/config"
	"github.com/lsie-mlf/lsie/host/motion"
	"github.com/lsie-mlf/lsie/shm"
)

// gate is a consumer's motion gate (config.Gate): it lets a frame through
// when something moved since the previous analysis frame (in the whole
// frame, or in one of its zones), when `every` has passed since the last
// frame it let through, and on the first frame. Only capture's thread
// calls it.
type gate struct {
	motion float64
	every  time.Duration
	zones  []int // indexes into motion.Scores.Zones; empty: the whole frame
	sent   bool
	last   time.Duration
}

// pass decides for the frame at pts and remembers a frame let through.
// A frame without a valid score (the first, or after a size change, or
// one the host cannot see: CUDA decoding) goes.
func (g *gate) pass(pts time.Duration, sc motion.Scores) bool {
	ok := !g.sent || !sc.Valid || (g.every > 0 && pts-g.last >= g.every) || g.moved(sc)
	if ok {
		g.sent, g.last = true, pts
	}
	return ok
}

func (g *gate) moved(sc motion.Scores) bool {
	if len(g.zones) == 0 {
		return sc.Frame >= g.motion
	}
	for _, i := range g.zones {
		if sc.Zones[i] >= g.motion {
			return true
		}
	}
	return false
}

// setupGates gives each gated video consumer its gate and the stream its
// motion meter (none when no plugin is gated: nothing is measured).
func (s *streamRunner) setupGates(st config.Stream, byName map[string]*consumer) error {
	zones := make([]motion.Zone, len(st.Zones))
	for i, z := range st.Zones {
		zones[i] = motion.Zone{Name: z.Name, Polygon: z.Polygon}
	}
	for _, ref := range st.Plugins {
		if ref.Gate == nil {
			continue
		}
		c := byName[ref.Name]
		field := fmt.Sprintf("stream %q: plugin %q: gate", st.ID, ref.Name)
		if !c.wantsVideo {
			return config.Diagnostics{{Pos: ref.Gate.Pos, Field: field,
				Message: "the plugin takes no video in this stream: a gate has no frames to hold back"}}
		}
		if s.motion == nil {
			s.motion = motion.New(zones)
		}
		g := &gate{motion: ref.Gate.Motion, every: ref.Gate.Every}
		for _, z := range ref.Gate.Zones {
			i := s.motion.Index(z)
			if i < 0 { // config validation names it first; a Stream built otherwise
				return config.Diagnostics{{Pos: ref.Gate.Pos, Field: field, Message: fmt.Sprintf("no zone %q in this stream", z)}}
			}
			g.zones = append(g.zones, i)
		}
		c.gate = g
	}
	return nil
}

// measure scores a frame capture handed over (in-process capture).
func (s *streamRunner) measure(f *capture.Frame) motion.Scores {
	switch {
	case s.motion == nil || f.Device || f.Data == nil:
		return motion.Scores{}
	case f.Format == shm.FormatNV12:
		return s.motion.Luma(f.Data, f.Width, f.Height, f.Stride)
	}
	return s.motion.RGB(f.Data, f.Width, f.Height, f.Stride)
}
