// Command slowplugin is a test plugin that takes delay_ms per frame, to
// drive the host's latest-wins path on live sources, and slow_ms more on
// the frames (counted from 0) that slow_seqs lists ("3,8"), to fall behind
// a segment's max_close_delay on those alone.
package main

import (
	"strconv"
	"strings"
	"time"

	"github.com/lsie-mlf/lsie/sdk"
)

func main() { sdk.Serve(slow{}) }

type slow struct{}

func (slow) Manifest() sdk.Manifest {
	return sdk.Manifest{Name: "slowplugin", Version: "0.0.1", Inputs: []string{sdk.TopicVideoRGB24}}
}

func (slow) OpenStream(info sdk.StreamInfo) (sdk.Stream, error) {
	s := stream{slowSeqs: map[uint64]bool{}}
	for key, dst := range map[string]*time.Duration{"delay_ms": &s.delay, "slow_ms": &s.slow} {
		v, ok := info.Attributes[key]
		if !ok {
			continue
		}
		ms, err := strconv.Atoi(v)
		if err != nil {
			return nil, sdk.Errorf("bad_input", "%s: %v", key, err)
		}
		*dst = time.Duration(ms) * time.Millisecond
	}
	if v := info.Attributes["slow_seqs"]; v != "" {
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.ParseUint(strings.TrimSpace(f), 10, 64)
			if err != nil {
				return nil, sdk.Errorf("bad_input", "slow_seqs: %v", err)
			}
			s.slowSeqs[n] = true
		}
	}
	return s, nil
}

type stream struct {
	delay, slow time.Duration
	slowSeqs    map[uint64]bool
}

func (s stream) ProcessFrame(f *sdk.Frame) (sdk.Fields, error) {
	d := s.delay
	if s.slowSeqs[f.Seq] {
		d += s.slow
	}
	time.Sleep(d)
	return sdk.Fields{"seq": float64(f.Seq)}, nil
}

func (stream) Close() error { return nil }
