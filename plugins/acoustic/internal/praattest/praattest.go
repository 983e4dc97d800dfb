// Package praattest runs scripts/praat/voice_report.praat on a WAV file and
// parses its report, for the acoustic plugin's agreement tests. A test on a
// machine without praat is skipped (failed under CI) by internal/testenv.
package praattest

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/lsie-mlf/lsie/internal/testenv"
)

// Frame is one 10 ms frame of Praat's pitch track.
type Frame struct {
	T   float64 // seconds, Praat's frame centre (sample j at (j+0.5)/rate)
	F0  float64 // Hz; 0 when unvoiced
	HNR float64 // dB from Harmonicity (cc) at the same time; -200 when silent
}

// Report is what voice_report.praat measures.
type Report struct {
	MeanF0       float64 // Hz, over voiced pitch frames
	VoicedFrames int
	Pulses       int
	Jitter       float64 // local, ratio (not percent); NaN if undefined
	ShimmerDB    float64 // local, dB; NaN if undefined
	HNR          float64 // Harmonicity (cc) mean, dB; NaN if undefined
	Frames       []Frame
}

// Script returns the path of voice_report.praat, found by walking up from
// the working directory to the module root.
func Script(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "scripts", "praat", "voice_report.praat")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("praattest: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Run runs the report on wavPath (made absolute: Praat resolves relative
// paths against the script's folder).
func Run(tb testing.TB, wavPath string) Report {
	tb.Helper()
	bin, err := exec.LookPath("praat")
	if err != nil {
		testenv.Missing(tb, "praat not installed (Debian package praat)")
	}
	abs, err := filepath.Abs(wavPath)
	if err != nil {
		tb.Fatal(err)
	}
	out, err := exec.Command(bin, "--run", Script(tb), abs).CombinedOutput()
	if err != nil {
		tb.Fatalf("praat %s: %v\n%s", abs, err, out)
	}
	r, err := Parse(string(out))
	if err != nil {
		tb.Fatalf("praat report for %s: %v\n%s", abs, err, out)
	}
	return r
}

// Parse reads the report's "key value" and "frame t f0 hnr" lines. Praat
// prints --undefined-- for a measure it cannot take; that reads as NaN.
func Parse(s string) (Report, error) {
	var r Report
	seen := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		num := func(i int) (float64, error) {
			if f[i] == "--undefined--" {
				return strconv.ParseFloat("NaN", 64)
			}
			return strconv.ParseFloat(f[i], 64)
		}
		if f[0] == "frame" {
			if len(f) != 4 {
				return Report{}, fmt.Errorf("bad frame line %q", sc.Text())
			}
			var fr Frame
			var err error
			for i, p := range []*float64{&fr.T, &fr.F0, &fr.HNR} {
				if *p, err = num(i + 1); err != nil {
					return Report{}, fmt.Errorf("frame line %q: %w", sc.Text(), err)
				}
			}
			r.Frames = append(r.Frames, fr)
			continue
		}
		if len(f) != 2 {
			return Report{}, fmt.Errorf("bad line %q", sc.Text())
		}
		v, err := num(1)
		if err != nil {
			return Report{}, fmt.Errorf("line %q: %w", sc.Text(), err)
		}
		switch f[0] {
		case "mean_f0_hz":
			r.MeanF0 = v
		case "voiced_frames":
			r.VoicedFrames = int(v)
		case "pulses":
			r.Pulses = int(v)
		case "jitter_local":
			r.Jitter = v
		case "shimmer_local_db":
			r.ShimmerDB = v
		case "hnr_db":
			r.HNR = v
		case "frames":
		default:
			return Report{}, fmt.Errorf("unknown key %q", f[0])
		}
		seen[f[0]] = true
	}
	for _, k := range []string{"mean_f0_hz", "voiced_frames", "pulses", "jitter_local", "shimmer_local_db", "hnr_db", "frames"} {
		if !seen[k] {
			return Report{}, fmt.Errorf("report lacks %s", k)
		}
	}
	return r, nil
}

// VoicedAgreement compares a 10 ms track at 16 kHz (frame k centred at
// sample 160k+80; voiced(k) reports the decision and whether frame k
// exists) with Praat's pitch frames: the fraction of Praat frames on which
// the voicing decisions agree, the fraction of Praat's voiced frames the
// track also calls voiced, and how many frames were compared.
func VoicedAgreement(voiced func(k int) (v, ok bool), frames []Frame) (agree, recall float64, n int) {
	same, pv, both := 0, 0, 0
	for _, f := range frames {
		v, ok := voiced(HopIndex(f.T))
		if !ok {
			continue
		}
		n++
		if v == (f.F0 > 0) {
			same++
		}
		if f.F0 > 0 {
			pv++
			if v {
				both++
			}
		}
	}
	return float64(same) / float64(max(n, 1)), float64(both) / float64(max(pv, 1)), n
}

// HopIndex is the 10 ms hop (at 16 kHz, centred at sample 160k+80) nearest
// to Praat's frame time t.
func HopIndex(t float64) int { return int(math.Round((t*16000 - 80.5) / 160)) }
