// Command faultplugin is a test plugin that misbehaves on command, through
// its stream attributes: crash_every=N exits after every N frames it
// processed, hang_at=N blocks forever on its Nth frame, slow_ms=M sleeps per
// frame, malformed=true returns NaN, flood_kb=K writes K KiB to stderr per
// frame, gate_ms=M with gate_file=F holds the first frame at or after media
// time M until file F exists (writing F.reached first), so a lossless stream
// waits there for the test (a restarted process holds it again). Counts are
// per process, so a restarted process starts over.
package main

import (
	"fmt"
	"math"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/lsie-mlf/lsie/sdk"
)

var processed atomic.Int64

func main() { sdk.Serve(fault{}) }

type fault struct{}

func (fault) Manifest() sdk.Manifest {
	return sdk.Manifest{Name: "faultplugin", Version: "0.0.1", Inputs: []string{sdk.TopicVideoRGB24}, Attributes: []sdk.Attribute{
		{Name: "crash_every", Type: sdk.AttrInteger, Default: "0", Min: "0", Description: "exit after every N frames the process handled; 0: never"},
		{Name: "hang_at", Type: sdk.AttrInteger, Default: "0", Min: "0", Description: "block forever on the process's Nth frame; 0: never"},
		{Name: "slow_ms", Type: sdk.AttrInteger, Default: "0", Min: "0", Description: "sleep per frame, in ms"},
		{Name: "malformed", Type: sdk.AttrBool, Default: "false", Description: "return NaN fields"},
		{Name: "flood_kb", Type: sdk.AttrInteger, Default: "0", Min: "0", Description: "KiB written to stderr per frame"},
		{Name: "gate_ms", Type: sdk.AttrInteger, Default: "0", Min: "0", Description: "media time, in ms, of the frame gate_file holds"},
		{Name: "gate_file", Type: sdk.AttrString, Description: "hold the first frame at or after gate_ms until this file exists (writing FILE.reached first)"},
	}}
}

type stream struct {
	crashEvery, hangAt, slowMS, floodKB, gateMS int64
	malformed, gated                            bool
	gateFile                                    string
}

func (fault) OpenStream(info sdk.StreamInfo) (sdk.Stream, error) {
	a := info.Attrs
	return &stream{crashEvery: int64(a.Int("crash_every")), hangAt: int64(a.Int("hang_at")), slowMS: int64(a.Int("slow_ms")),
		floodKB: int64(a.Int("flood_kb")), gateMS: int64(a.Int("gate_ms")), malformed: a.Bool("malformed"), gateFile: a.String("gate_file")}, nil
}

func (s *stream) ProcessFrame(f *sdk.Frame) (sdk.Fields, error) {
	n := processed.Add(1)
	if s.floodKB > 0 {
		os.Stderr.WriteString(strings.Repeat("flood flood flood flood flood flood flood\n", int(s.floodKB)*1024/42))
	}
	if s.slowMS > 0 {
		time.Sleep(time.Duration(s.slowMS) * time.Millisecond)
	}
	if s.gateFile != "" && !s.gated && f.PTS >= time.Duration(s.gateMS)*time.Millisecond {
		s.gated = true
		_ = os.WriteFile(s.gateFile+".reached", nil, 0o644)
		for {
			if _, err := os.Stat(s.gateFile); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if s.hangAt > 0 && n == s.hangAt {
		sdk.Logger().Error("fault: hanging on purpose", "frame", n)
		select {}
	}
	if s.crashEvery > 0 && n%s.crashEvery == 0 {
		// The SDK's logger writes to the real stderr synchronously: the
		// line reaches the host before the process is gone.
		sdk.Logger().Error(fmt.Sprintf("fault: crashing on purpose after %d frames", n))
		os.Exit(3)
	}
	if s.malformed {
		return sdk.Fields{"value": math.NaN(), "ok": 1}, nil
	}
	return sdk.Fields{"seq": float64(f.Seq)}, nil
}

func (s *stream) Close() error { return nil }
