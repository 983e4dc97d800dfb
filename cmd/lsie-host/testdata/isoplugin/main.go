// Command isoplugin is a test plugin for stream isolation: it takes video
// and audio, and misbehaves on the streams whose attributes ask for it:
// frame_sleep_ms=M sleeps per frame, audio_sleep_ms=M per audio chunk,
// panic=frames|audio panics on every frame or chunk. Its name is its file
// name, so one binary serves as several plugins (a same-run baseline).
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/lsie-mlf/lsie/sdk"
)

func main() { sdk.Serve(iso{name: filepath.Base(os.Args[0])}) }

type iso struct{ name string }

func (p iso) Manifest() sdk.Manifest {
	return sdk.Manifest{Name: p.name, Version: "0.0.1", Inputs: []string{sdk.TopicVideoRGB24, sdk.TopicAudioPCM16k}, Attributes: []sdk.Attribute{
		{Name: "frame_sleep_ms", Type: sdk.AttrInteger, Default: "0", Min: "0", Description: "sleep per frame, in ms"},
		{Name: "audio_sleep_ms", Type: sdk.AttrInteger, Default: "0", Min: "0", Description: "sleep per audio chunk, in ms"},
		{Name: "panic", Type: sdk.AttrEnum, Choices: []string{"frames", "audio"}, Description: "panic on every frame or on every audio chunk"},
		// Any value: the plugin itself refuses the stream, as a plugin
		// whose check the schema cannot express does.
		{Name: "refuse", Type: sdk.AttrString, Description: "refuse the stream at open (bad_input), quoting the value"},
	}}
}

type stream struct {
	frameSleep, audioSleep time.Duration
	panics                 string
}

func (iso) OpenStream(info sdk.StreamInfo) (sdk.Stream, error) {
	a := info.Attrs
	if v := a.String("refuse"); v != "" {
		return nil, sdk.Errorf("bad_input", "attribute refuse: %q is not accepted", v)
	}
	return &stream{panics: a.String("panic"), frameSleep: time.Duration(a.Int("frame_sleep_ms")) * time.Millisecond,
		audioSleep: time.Duration(a.Int("audio_sleep_ms")) * time.Millisecond}, nil
}

func (s *stream) ProcessFrame(f *sdk.Frame) (sdk.Fields, error) {
	if s.panics == "frames" {
		var m map[string]int
		m["boom"]++ // a nil-map write: a real bug, not a staged panic value
	}
	time.Sleep(s.frameSleep)
	return sdk.Fields{"seq": float64(f.Seq)}, nil
}

func (s *stream) ProcessAudio(a *sdk.Audio) ([]sdk.Item, error) {
	if s.panics == "audio" {
		panic(fmt.Sprintf("isoplugin: audio chunk %d", a.Seq))
	}
	time.Sleep(s.audioSleep)
	if len(a.Samples) == 0 {
		return nil, nil
	}
	d := time.Duration(len(a.Samples)) * time.Second / time.Duration(a.SampleRate)
	return []sdk.Item{{PTS: a.PTS, Duration: d, Fields: sdk.Fields{"samples": float64(len(a.Samples))}}}, nil
}

func (s *stream) Close() error { return nil }
