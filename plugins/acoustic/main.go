// Command acoustic is an lsie plugin that describes a stream's sound every
// 10 ms: loudness, pitch (F0, with a voicing decision), zero-crossing rate
// and spectral centroid. Segment aggregates of these (voiced fraction = mean
// of "voiced", F0 percentiles over voiced hops only) come from the host.
package main

import (
	"time"

	"github.com/lsie-mlf/lsie/plugins/acoustic/dsp"
	"github.com/lsie-mlf/lsie/sdk"
)

// version is this plugin's own semver.
const version = "0.1.0"

const (
	sampleRate = 16000
	hopSamples = sampleRate / 100 // 10 ms
	// levelWindow is the 25 ms window, centred on each hop, that loudness,
	// zero crossings and the spectrum are measured on.
	levelWindow = 400
)

func main() { sdk.Serve(plugin{}) }

type plugin struct{}

func (plugin) Manifest() sdk.Manifest {
	return sdk.Manifest{
		Name:        "acoustic",
		Version:     version,
		Description: "loudness, F0 (YIN) with voicing, zero-crossing rate and spectral centroid per 10 ms hop",
		Inputs:      []string{sdk.TopicAudioPCM16k},
		Outputs:     []string{"acoustic.hop@1"},
		Fields: []sdk.Field{
			{Name: "loudness_dbfs", Unit: "dBFS", Description: "RMS level of the 25 ms window; -120 for digital silence"},
			{Name: "voiced", Unit: "0|1", Description: "1 when the hop is periodic enough to carry a pitch; its segment mean is the voiced fraction"},
			{Name: "f0_hz", Unit: "Hz", Description: "fundamental frequency (YIN); present only on voiced hops, never 0 as a pitch"},
			{Name: "periodicity", Unit: "0..1", Description: "1 - YIN's normalised difference at the chosen lag"},
			{Name: "zcr", Unit: "0..1", Description: "fraction of adjacent sample pairs that change sign"},
			{Name: "centroid_hz", Unit: "Hz", Description: "magnitude-weighted mean frequency; absent on silent hops"},
		},
	}
}

func (plugin) OpenStream(sdk.StreamInfo) (sdk.Stream, error) {
	pt := dsp.NewPitchTracker(dsp.DefaultPitchConfig())
	window := max(pt.WindowSamples(), levelWindow)
	return &stream{pitch: pt, spec: dsp.NewSpectrum(levelWindow), hopper: sdk.NewHopper(hopSamples, window), window: window}, nil
}

// stream holds one stream's analysis state; the Hopper keeps the sample
// line continuous across chunks.
type stream struct {
	pitch  *dsp.PitchTracker
	spec   *dsp.Spectrum
	hopper *sdk.Hopper
	window int
	items  []sdk.Item
}

func (s *stream) ProcessAudio(a *sdk.Audio) ([]sdk.Item, error) {
	if a.SampleRate != 0 && a.SampleRate != sampleRate {
		return nil, sdk.Errorf("bad_input", "audio at %d Hz; acoustic needs %d Hz", a.SampleRate, sampleRate)
	}
	s.items = s.items[:0]
	if a.End {
		s.hopper.Flush(s.hop)
	} else {
		s.hopper.Push(a, s.hop)
	}
	return s.items, nil
}

// AudioProgress tells the host which hops are done: a hop is emitted only
// once its window is complete, so results trail the chunks by ~20 ms.
func (s *stream) AudioProgress() time.Duration { return s.hopper.Next() }

// hop measures one 10 ms hop from the window centred on it.
func (s *stream) hop(_ int64, pts time.Duration, w []float32) {
	mid := len(w) / 2
	lw := w[mid-levelWindow/2 : mid+levelWindow/2]
	f := sdk.Fields{
		"loudness_dbfs": dsp.RMSdBFS(lw),
		"zcr":           dsp.ZeroCrossingRate(lw),
	}
	if c, ok := s.spec.Centroid(lw, sampleRate); ok {
		f["centroid_hz"] = c
	}
	pw := w[mid-s.pitch.WindowSamples()/2 : mid-s.pitch.WindowSamples()/2+s.pitch.WindowSamples()]
	p := s.pitch.Estimate(pw)
	f["periodicity"] = p.Periodicity
	if p.Voiced {
		f["voiced"] = 1
		f["f0_hz"] = p.F0
	} else {
		f["voiced"] = 0
	}
	s.items = append(s.items, sdk.Item{PTS: pts, Duration: 10 * time.Millisecond, Fields: f})
}

func (s *stream) Close() error { return nil }
