// Command slowplugin is a test plugin that takes delay_ms per frame, to
// drive the host's latest-wins path on live sources.
package main

import (
	"strconv"
	"time"

	"github.com/lsie-mlf/lsie/sdk"
)

func main() { sdk.Serve(slow{}) }

type slow struct{}

func (slow) Manifest() sdk.Manifest {
	return sdk.Manifest{Name: "slowplugin", Version: "0.0.1", Inputs: []string{sdk.TopicVideoRGB24}}
}

func (slow) OpenStream(info sdk.StreamInfo) (sdk.Stream, error) {
	ms, err := strconv.Atoi(info.Attributes["delay_ms"])
	if err != nil {
		return nil, sdk.Errorf("bad_input", "delay_ms: %v", err)
	}
	return stream{delay: time.Duration(ms) * time.Millisecond}, nil
}

type stream struct{ delay time.Duration }

func (s stream) ProcessFrame(f *sdk.Frame) (sdk.Fields, error) {
	time.Sleep(s.delay)
	return sdk.Fields{"seq": float64(f.Seq)}, nil
}

func (stream) Close() error { return nil }
