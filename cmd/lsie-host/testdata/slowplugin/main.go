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
	return sdk.Manifest{Name: "slowplugin", Version: "0.0.1", Inputs: []string{sdk.TopicVideoRGB24},
		Attributes: []sdk.Attribute{
			{Name: "delay_ms", Type: sdk.AttrInteger, Min: "0", Default: "0", Description: "sleep per frame"},
			{Name: "slow_ms", Type: sdk.AttrInteger, Min: "0", Default: "0", Description: "extra sleep on slow_seqs"},
			{Name: "slow_seqs", Type: sdk.AttrString, Description: "comma-separated frame seqs that take slow_ms more"},
		}}
}

func (slow) OpenStream(info sdk.StreamInfo) (sdk.Stream, error) {
	s := stream{slowSeqs: map[uint64]bool{}, delay: time.Duration(info.Attrs.Int("delay_ms")) * time.Millisecond,
		slow: time.Duration(info.Attrs.Int("slow_ms")) * time.Millisecond}
	if v := info.Attrs.String("slow_seqs"); v != "" {
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
