package dsp

import "math"

// TrackPitch runs p over x in 10 ms hops as the acoustic plugin does: hop k
// covers samples [k·hop, (k+1)·hop) and is analysed on a window centred on
// its middle, zero-padded past the ends, each hop knowing the last one's F0
// (EstimateNear). The track's frames are the hops.
func TrackPitch(x []float32, sampleRate int, p *PitchTracker) PitchTrack {
	hop := sampleRate / 100
	if hop <= 0 {
		return PitchTrack{}
	}
	sr := float64(sampleRate)
	n := (len(x) + hop - 1) / hop
	tr := PitchTrack{T0: float64(hop/2) / sr, Step: float64(hop) / sr, F0: make([]float64, n), End: float64(len(x)) / sr}
	w := p.WindowSamples()
	buf := make([]float32, w)
	for k := range tr.F0 {
		start := k*hop + hop/2 - w/2
		for i := range buf {
			j := start + i
			buf[i] = 0
			if j >= 0 && j < len(x) {
				buf[i] = x[j]
			}
		}
		prev := 0.0
		if k > 0 {
			prev = tr.F0[k-1]
		}
		if e := p.EstimateNear(buf, prev); e.Voiced {
			tr.F0[k] = e.F0
		}
	}
	return tr
}

// VoiceReport holds whole-signal voice measures, each defined as Praat
// defines it (see Pulses, JitterLocal, ShimmerLocalDB, HNRTrack); NaN marks
// a measure the signal does not support (too few periods, no voicing).
type VoiceReport struct {
	MeanF0       float64 // Hz, mean over the track's voiced frames
	VoicedFrames int
	Pulses       int
	Jitter       float64 // local jitter, ratio
	ShimmerDB    float64 // local shimmer, dB
	HNR          float64 // mean HNR (cc) over frames that have one, dB
}

// Report measures x with pulses placed along track (normally TrackPitch's)
// and Praat's default period limits; HNR uses a 75 Hz pitch floor.
func Report(x []float32, sampleRate int, track PitchTrack) VoiceReport {
	r := VoiceReport{MeanF0: math.NaN(), Jitter: math.NaN(), ShimmerDB: math.NaN(), HNR: math.NaN()}
	var sum float64
	for _, f := range track.F0 {
		if f > 0 {
			sum += f
			r.VoicedFrames++
		}
	}
	if r.VoicedFrames > 0 {
		r.MeanF0 = sum / float64(r.VoicedFrames)
	}
	pulses := Pulses(x, sampleRate, track)
	r.Pulses = len(pulses)
	lim := DefaultPeriodLimits()
	if v, ok := JitterLocal(pulses, lim); ok {
		r.Jitter = v
	}
	if v, ok := ShimmerLocalDB(x, sampleRate, pulses, lim); ok {
		r.ShimmerDB = v
	}
	if _, hnr := HNRTrack(x, sampleRate, 75); len(hnr) > 0 {
		if v, ok := MeanHNR(hnr); ok {
			r.HNR = v
		}
	}
	return r
}
