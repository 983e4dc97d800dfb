// Command acoustic is an lsie plugin that describes a stream's sound every
// 10 ms with eGeMAPS-like low-level descriptors: level and loudness, pitch
// (F0, with a voicing decision), jitter, shimmer, HNR, formants, spectral
// balance (alpha ratio, Hammarberg index, slopes) and MFCC 1–4. Segment
// aggregates (mean, percentiles, ...) come from the host, over the hops on
// which a field is present; so a descriptor is left out of hops where it
// means nothing, and that is what makes its aggregates voiced-only,
// speech-only or unvoiced-only.
//
// Gating. A hop is speech (field "speech") when it is voiced, or when its
// level is at least speechMarginDB above the stream's tracked noise floor
// and above speechMinDBFS: an energy/periodicity detector. Speech-only
// descriptors are absent on non-speech hops. The eGeMAPS voiced/unvoiced
// variants are separate fields: the "_v" fields are on voiced speech hops,
// the "_uv" ones on unvoiced speech hops. F0 and the period-based measures
// (jitter, shimmer, HNR, formants) are voiced-only.
package main

import (
	"math"
	"time"

	"github.com/lsie-mlf/lsie/plugins/acoustic/dsp"
	"github.com/lsie-mlf/lsie/sdk"
)

// version is this plugin's own semver.
const version = "0.2.0"

const (
	sampleRate = 16000
	hopSamples = sampleRate / 100 // 10 ms
	// levelWindow is the 25 ms window, centred on each hop, that loudness,
	// zero crossings, the spectrum and formants are measured on.
	levelWindow = 400
	// voiceWindow is the 60 ms window, centred on each hop, on which
	// per-hop jitter and shimmer place their pulses: 6 periods at 100 Hz.
	voiceWindow = 960
)

// Speech detector settings (see the package comment).
const (
	speechMarginDB = 12  // above the noise floor
	speechMinDBFS  = -55 // absolute minimum for unvoiced speech
	// The noise floor follows the level down at once and up by
	// floorRiseDB per hop (3 dB/s), so that it settles on the quietest
	// recent hops and speech cannot lift it within an utterance.
	floorRiseDB  = 0.03
	floorStartDB = -70
)

// semitoneRef is eGeMAPS's F0 reference: 27.5 Hz (A0) is 0 semitones.
const semitoneRef = 27.5

func main() { sdk.Serve(plugin{}) }

type plugin struct{}

// fields documents every output; the order is the manifest's. The first
// ones are what the host's live table shows (voiced, f0, level).
var fields = []sdk.Field{
	{Name: "voiced", Unit: "0|1", Description: "1 when the hop is periodic enough to carry a pitch (YIN; hysteresis: 0.35 to start, 0.55 to continue); its segment mean is the voiced fraction"},
	{Name: "f0_hz", Unit: "Hz", Description: "fundamental frequency (YIN); voiced hops only, never 0 as a pitch"},
	{Name: "loudness_dbfs", Unit: "dBFS", Description: "RMS level of the 25 ms window; -120 for digital silence; every hop"},
	{Name: "loudness", Unit: "sone-like", Description: "auditory loudness: sum over 26 mel bands (20 Hz-8 kHz) of band power^0.3 (eGeMAPS loudness); every hop, 0 in silence"},
	{Name: "speech", Unit: "0|1", Description: "speech activity: voiced, or at least 12 dB above the tracked noise floor and above -55 dBFS; its segment mean is the speech fraction"},
	{Name: "f0_semitones", Unit: "st re 27.5 Hz", Description: "F0 in semitones above 27.5 Hz (eGeMAPS F0semitoneFrom27.5Hz); voiced hops only"},
	{Name: "periodicity", Unit: "0..1", Description: "1 - YIN's normalised difference at the chosen lag; every hop"},
	{Name: "zcr", Unit: "0..1", Description: "fraction of adjacent sample pairs that change sign; every hop"},
	{Name: "centroid_hz", Unit: "Hz", Description: "magnitude-weighted mean frequency; absent on silent hops"},
	{Name: "jitter_local", Unit: "ratio", Description: "mean |difference of consecutive periods| / mean period over the pulses in the 60 ms around the hop (Praat jitter (local), cc pulses, periods 0.1-20 ms, factor 1.3); voiced hops with 3+ pulses"},
	{Name: "shimmer_local_db", Unit: "dB", Description: "mean |20 log10 of consecutive period amplitudes| over the same pulses (Praat shimmer (local, dB), amplitude factor 1.6); voiced hops"},
	{Name: "hnr_db", Unit: "dB", Description: "harmonics-to-noise ratio 10 log10(r/(1-r)) from the best normalised cross-correlation r over one 75 Hz period (Praat Harmonicity (cc) frame); voiced hops"},
	{Name: "f1_hz", Unit: "Hz", Description: "first formant (LPC order 18 on the 25 ms window, poles above 90 Hz and narrower than 600 Hz); voiced hops"},
	{Name: "f1_bw_hz", Unit: "Hz", Description: "first formant's bandwidth; voiced hops"},
	{Name: "f2_hz", Unit: "Hz", Description: "second formant; voiced hops"},
	{Name: "f2_bw_hz", Unit: "Hz", Description: "second formant's bandwidth; voiced hops"},
	{Name: "f3_hz", Unit: "Hz", Description: "third formant; voiced hops"},
	{Name: "f3_bw_hz", Unit: "Hz", Description: "third formant's bandwidth; voiced hops"},
	{Name: "alpha_ratio_v_db", Unit: "dB", Description: "energy 50-1000 Hz over 1-5 kHz (eGeMAPS alphaRatioV); voiced speech hops"},
	{Name: "alpha_ratio_uv_db", Unit: "dB", Description: "alpha ratio on unvoiced speech hops (alphaRatioUV)"},
	{Name: "hammarberg_v_db", Unit: "dB", Description: "strongest bin 0-2 kHz over strongest 2-5 kHz (hammarbergIndexV); voiced speech hops"},
	{Name: "hammarberg_uv_db", Unit: "dB", Description: "Hammarberg index on unvoiced speech hops (hammarbergIndexUV)"},
	{Name: "slope_0_500_v", Unit: "dB/Hz", Description: "least-squares slope of the log power spectrum over 0-500 Hz (slopeV0-500); voiced speech hops"},
	{Name: "slope_0_500_uv", Unit: "dB/Hz", Description: "slope 0-500 Hz on unvoiced speech hops (slopeUV0-500)"},
	{Name: "slope_500_1500_v", Unit: "dB/Hz", Description: "slope over 500-1500 Hz (slopeV500-1500); voiced speech hops"},
	{Name: "slope_500_1500_uv", Unit: "dB/Hz", Description: "slope 500-1500 Hz on unvoiced speech hops (slopeUV500-1500)"},
	{Name: "mfcc1", Unit: "1", Description: "mel cepstral coefficient 1 (26 mel bands 20 Hz-8 kHz, log power, DCT-II, lifter 22); speech hops"},
	{Name: "mfcc2", Unit: "1", Description: "MFCC 2; speech hops"},
	{Name: "mfcc3", Unit: "1", Description: "MFCC 3; speech hops"},
	{Name: "mfcc4", Unit: "1", Description: "MFCC 4; speech hops"},
	{Name: "mfcc1_v", Unit: "1", Description: "MFCC 1 on voiced speech hops (eGeMAPS mfcc1V)"},
	{Name: "mfcc2_v", Unit: "1", Description: "MFCC 2 on voiced speech hops"},
	{Name: "mfcc3_v", Unit: "1", Description: "MFCC 3 on voiced speech hops"},
	{Name: "mfcc4_v", Unit: "1", Description: "MFCC 4 on voiced speech hops"},
}

func (plugin) Manifest() sdk.Manifest {
	return sdk.Manifest{
		Name:        "acoustic",
		Version:     version,
		Description: "eGeMAPS-like descriptors per 10 ms hop: level, loudness, speech/voicing, F0, jitter, shimmer, HNR, formants F1-F3, alpha ratio, Hammarberg index, spectral slopes, MFCC 1-4",
		Inputs:      []string{sdk.TopicAudioPCM16k},
		Outputs:     []string{"acoustic.hop@1"},
		Fields:      fields,
		Attributes:  []sdk.Attribute{}, // none: a block that sets one is refused
	}
}

func (plugin) OpenStream(sdk.StreamInfo) (sdk.Stream, error) {
	pt := dsp.NewPitchTracker(dsp.DefaultPitchConfig())
	hnr := dsp.NewHarmonicity(sampleRate, 75)
	window := max(pt.WindowSamples(), levelWindow, voiceWindow, 2*hnr.Reach()+2)
	spec := dsp.NewSpectrum(levelWindow)
	return &stream{
		pitch:   pt,
		spec:    spec,
		hnr:     hnr,
		formant: dsp.NewFormantTracker(sampleRate, levelWindow),
		mel:     dsp.NewMelBank(sampleRate, spec.Size(), 26, 20, 8000, 4),
		hopper:  sdk.NewHopper(hopSamples, window),
		floorDB: floorStartDB,
	}, nil
}

// stream holds one stream's analysis state; the Hopper keeps the sample
// line continuous across chunks.
type stream struct {
	pitch   *dsp.PitchTracker
	spec    *dsp.Spectrum
	hnr     *dsp.Harmonicity
	formant *dsp.FormantTracker
	mel     *dsp.MelBank
	voicer  dsp.Voicer // per-hop jitter and shimmer, buffers kept
	hopper  *sdk.Hopper
	items   []sdk.Item
	prevF0  float64 // last hop's F0, 0 if unvoiced: pitch hysteresis
	floorDB float64 // tracked noise floor for the speech detector
	mfcc    [5]float64
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
// once its window is complete, so results trail the chunks by ~35 ms.
func (s *stream) AudioProgress() time.Duration { return s.hopper.Next() }

// centred returns the n samples of w centred on its middle.
func centred(w []float32, n int) []float32 {
	mid := len(w) / 2
	return w[mid-n/2 : mid-n/2+n]
}

// hop measures one 10 ms hop from the window centred on it.
func (s *stream) hop(_ int64, pts time.Duration, w []float32) {
	lw := centred(w, levelWindow)
	level := dsp.RMSdBFS(lw)
	f := sdk.Fields{
		"loudness_dbfs": level,
		"zcr":           dsp.ZeroCrossingRate(lw),
	}
	if c, ok := s.spec.Centroid(lw, sampleRate); ok {
		f["centroid_hz"] = c
	}
	p := s.pitch.EstimateNear(centred(w, s.pitch.WindowSamples()), s.prevF0)
	f["periodicity"] = p.Periodicity
	s.prevF0 = p.F0

	pow := s.spec.Power(lw)
	bands := s.mel.Energies(pow)
	f["loudness"] = dsp.Loudness(bands)

	speech := p.Voiced || (level >= s.floorDB+speechMarginDB && level >= speechMinDBFS)
	s.trackFloor(level)
	f["voiced"], f["speech"] = 0, 0
	if speech {
		f["speech"] = 1
		s.speechSpectrum(f, pow, bands, p.Voiced)
	}
	if p.Voiced {
		f["voiced"] = 1
		f["f0_hz"] = p.F0
		f["f0_semitones"] = 12 * math.Log2(p.F0/semitoneRef)
		s.voice(f, w, lw, p.F0)
	}
	s.items = append(s.items, sdk.Item{PTS: pts, Duration: 10 * time.Millisecond, Fields: f})
}

// trackFloor moves the noise floor: down to the level at once, up slowly.
func (s *stream) trackFloor(level float64) {
	if level < s.floorDB {
		s.floorDB = level
	} else {
		s.floorDB += floorRiseDB
	}
}

// speechSpectrum adds the spectral-balance descriptors of a speech hop,
// under "_v" or "_uv" names, and the MFCCs.
func (s *stream) speechSpectrum(f sdk.Fields, pow, bands []float64, voiced bool) {
	size := s.spec.Size()
	sfx := "_uv"
	if voiced {
		sfx = "_v"
	}
	f["alpha_ratio"+sfx+"_db"] = dsp.AlphaRatio(pow, sampleRate, size)
	f["hammarberg"+sfx+"_db"] = dsp.HammarbergIndex(pow, sampleRate, size)
	f["slope_0_500"+sfx] = dsp.SpectralSlope(pow, sampleRate, size, 0, 500)
	f["slope_500_1500"+sfx] = dsp.SpectralSlope(pow, sampleRate, size, 500, 1500)
	s.mel.MFCC(bands, s.mfcc[:])
	for i, name := range [...]string{"mfcc1", "mfcc2", "mfcc3", "mfcc4"} {
		f[name] = s.mfcc[i+1]
		if voiced {
			f[name+"_v"] = s.mfcc[i+1]
		}
	}
}

// voice adds the voiced-only descriptors.
func (s *stream) voice(f sdk.Fields, w, lw []float32, f0 float64) {
	if j, sh, okJ, okS := s.voicer.Measure(centred(w, voiceWindow), sampleRate, f0); okJ || okS {
		if okJ {
			f["jitter_local"] = j
		}
		if okS {
			f["shimmer_local_db"] = sh
		}
	}
	// The hop is voiced already; the harmonicity frame only measures how
	// periodic it is, so Praat's silence rule (relative to a global peak a
	// live stream does not know) is not applied.
	if r, _ := s.hnr.Frame(w, float64(len(w)/2)); r > 0 {
		f["hnr_db"] = dsp.HNRdB(r)
	}
	fm := s.formant.Estimate(lw)
	for i, name := range [...]string{"f1", "f2", "f3"} {
		if i >= len(fm) {
			break
		}
		f[name+"_hz"] = fm[i].Hz
		f[name+"_bw_hz"] = fm[i].BandwidthHz
	}
}

func (s *stream) Close() error { return nil }
