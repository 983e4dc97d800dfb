// Package topic names what plugins consume and produce. A topic is a dotted
// lower-case name with a major version, "transcript.final@1"; the host's own
// inputs ("video.rgb24", "video.nv12.cuda", "audio.pcm16k") carry no version because the host
// protocol versions them. Producers and consumers match on name and major.
//
// Delivery depends on the name alone, so producer, consumer and host agree
// without configuration: a topic whose last name part is "partial" holds a
// state that is superseded by the next message (latest wins, coalesced while
// a consumer is busy); every other topic is a stream of events delivered in
// order and losslessly up to a bound, past which the host records them as
// text_dropped.
package topic

import (
	"fmt"
	"strconv"
	"strings"
)

// Host topics: inputs the host itself produces on every stream.
const (
	VideoRGB24  = "video.rgb24"
	AudioPCM16k = "audio.pcm16k"
	// VideoNV12CUDA is NV12 frames in GPU memory, on streams whose video
	// is in CUDA memory (docs/CUDA.md); a plugin may declare it beside
	// VideoRGB24 to take either kind of stream.
	VideoNV12CUDA = "video.nv12.cuda"
	// VideoRGBF32CUDA is each frame as a model's input tensor in GPU memory
	// (planar RGB float32, the size and normalisation the plugin's manifest
	// declares), made by the host once per frame for all who ask.
	VideoRGBF32CUDA = "video.rgbf32.cuda"
	maxNameBytes    = 128
)

// Topic is a parsed topic name.
type Topic struct {
	Name  string // "transcript.final"
	Major int    // 1; 0 for host topics
}

// String renders the topic as it is written.
func (t Topic) String() string {
	if t.Major == 0 {
		return t.Name
	}
	return t.Name + "@" + strconv.Itoa(t.Major)
}

// Host reports whether t is produced by the host, not by a plugin.
func (t Topic) Host() bool {
	if t.Major != 0 {
		return false
	}
	switch t.Name {
	case VideoRGB24, AudioPCM16k, VideoNV12CUDA, VideoRGBF32CUDA:
		return true
	}
	return false
}

// Coalesces reports whether only the latest message matters (a partial).
func (t Topic) Coalesces() bool {
	return t.Name == "partial" || strings.HasSuffix(t.Name, ".partial")
}

// Parse checks a topic written in a manifest: a host topic, or
// "name.parts@major" with parts of [a-z][a-z0-9_]* and major 1..9999.
func Parse(s string) (Topic, error) {
	name, ver, versioned := strings.Cut(s, "@")
	if len(name) == 0 || len(name) > maxNameBytes {
		return Topic{}, fmt.Errorf("topic %q: name must be 1..%d bytes", s, maxNameBytes)
	}
	for i, part := range strings.Split(name, ".") {
		if err := checkPart(part); err != nil {
			return Topic{}, fmt.Errorf("topic %q: name part %d %q: %v", s, i+1, part, err)
		}
	}
	if !versioned {
		t := Topic{Name: name}
		if !t.Host() {
			return Topic{}, fmt.Errorf("topic %q: a plugin topic needs a major version, e.g. %q", s, name+"@1")
		}
		return t, nil
	}
	major, err := strconv.Atoi(ver)
	if err != nil || major < 1 || major > 9999 || ver[0] == '0' || ver[0] == '+' {
		return Topic{}, fmt.Errorf("topic %q: version %q after '@' must be a major version 1..9999", s, ver)
	}
	return Topic{Name: name, Major: major}, nil
}

func checkPart(p string) error {
	if p == "" {
		return fmt.Errorf("empty")
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c >= 'a' && c <= 'z':
		case i > 0 && (c >= '0' && c <= '9' || c == '_'):
		default:
			return fmt.Errorf("character %q at %d: use [a-z][a-z0-9_]*", c, i+1)
		}
	}
	return nil
}
