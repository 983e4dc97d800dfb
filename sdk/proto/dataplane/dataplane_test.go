package dataplane

import (
	"bytes"
	"strings"
	"testing"

	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
	"github.com/lsie-mlf/lsie/shm"
	"google.golang.org/protobuf/proto"
)

func TestRoundTrips(t *testing.T) {
	b := make([]byte, MaxMessage)
	r := Region{ID: 7, Spec: shm.RegionSpec{Slots: 5, FrameBytes: 640 * 3 * 360}}
	if got, err := ParseRegion(b[:PutRegion(b, r)]); err != nil || got != r {
		t.Fatalf("region: %+v %v", got, err)
	}
	d := shm.Descriptor{Stream: 1, Region: 7, Slot: 2, Format: shm.FormatRGB24, Width: 640, Height: 360, Stride: 1920, Generation: 4, Seq: 9, PTS: 1e9}
	var back shm.Descriptor
	if err := ParseFrame(b[:PutFrame(b, &d)], &back); err != nil || back != d {
		t.Fatalf("frame: %+v %v", back, err)
	}
	a := Ack{Region: 7, Slot: 2, Generation: 4, Handle: 1}
	n := PutResultHeader(b, a)
	copy(b[n:], "body")
	if got, body, err := ParseResult(b[:n+4]); err != nil || got != a || string(body) != "body" {
		t.Fatalf("result: %+v %q %v", got, body, err)
	}
	au := Audio{Handle: 3, FirstSample: 16000, PTS: 1e9, Seq: 10, Samples: 4, Rate: 16000}
	n = PutAudio(b, au)
	pcm := []byte{1, 0, 2, 0, 3, 0, 4, 0}
	copy(b[n:], pcm)
	if got, p, err := ParseAudio(b[:n+len(pcm)]); err != nil || got != au || !bytes.Equal(p, pcm) {
		t.Fatalf("audio: %+v %v %v", got, p, err)
	}
}

func TestAudioErrors(t *testing.T) {
	b := make([]byte, 128)
	tests := []struct {
		name string
		a    Audio
		pcm  int
		want string
	}{
		{"short pcm", Audio{Samples: 4, Rate: 16000}, 6, "4 samples but 6 PCM bytes"},
		{"gap with pcm", Audio{Flags: AudioGap, Samples: 4}, 2, "carries 2 PCM bytes"},
		{"bad flags", Audio{Flags: 8}, 0, "unknown flags"},
		{"no rate", Audio{Samples: 1}, 2, "sample rate 0"},
		{"negative index", Audio{Samples: 1, Rate: 16000, FirstSample: -5}, 2, "first sample -5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := PutAudio(b, tc.a)
			_, _, err := ParseAudio(b[:n+tc.pcm])
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// FuzzParse feeds arbitrary packets to every parser: none may panic, and
// an accepted audio record re-encodes to the same bytes.
func FuzzParse(f *testing.F) {
	b := make([]byte, 256)
	f.Add(b[:PutRegion(b, Region{ID: 1, Spec: shm.RegionSpec{Slots: 2, FrameBytes: 64}})])
	n := PutAudio(b, Audio{Samples: 2, Rate: 16000, Seq: 1})
	f.Add(append([]byte(nil), b[:n+4]...))
	f.Add(b[:PutDropRegion(b, 3)])
	f.Add([]byte{MsgResult})
	f.Add(append(b[:PutDeliverHeader(b, Deliver{Handle: 2, Seq: 9})], 0x0a, 0x01, 'x'))
	f.Add(append(b[:PutPublishHeader(b, 2)], 0x0a, 0x01, 'x'))
	f.Fuzz(func(t *testing.T, p []byte) {
		_, _ = ParseRegion(p)
		_, _ = ParseDropRegion(p)
		_, _, _ = ParseResult(p)
		if d, body, err := ParseDeliver(p); err == nil {
			out := make([]byte, DeliverHeaderSize)
			PutDeliverHeader(out, d)
			if len(body) != len(p)-DeliverHeaderSize || (d.Handle == 0 && d.Seq == 0 && p[4] != 0) {
				t.Fatalf("deliver header does not round-trip")
			}
		}
		if h, body, err := ParsePublish(p); err == nil && (len(body) != len(p)-PublishHeaderSize || (h == 0 && p[4] != 0)) {
			t.Fatalf("publish header does not round-trip")
		}
		var d shm.Descriptor
		_ = ParseFrame(p, &d)
		a, pcm, err := ParseAudio(p)
		if err != nil {
			return
		}
		out := make([]byte, AudioHeaderSize+len(pcm))
		PutAudio(out, a)
		copy(out[AudioHeaderSize:], pcm)
		if !bytes.Equal(out[:AudioHeaderSize], p[:AudioHeaderSize]) && p[2] == 0 && p[3] == 0 {
			t.Fatalf("audio header does not round-trip")
		}
	})
}

func TestMessageRecordsRoundTrip(t *testing.T) {
	m := &pluginv1.Message{Topic: "transcript.final@1", Producer: "talker", PtsNs: 5e8, Text: "ask not", Payload: []byte(`{"words":[]}`)}
	b, err := EncodeDeliver(Deliver{Handle: 7, Seq: 42}, m)
	if err != nil {
		t.Fatal(err)
	}
	d, got, err := DecodeDeliver(b)
	if err != nil || d != (Deliver{Handle: 7, Seq: 42}) || !proto.Equal(got, m) {
		t.Fatalf("deliver round trip: %+v %v %v", d, got, err)
	}
	b, err = EncodePublish(7, m)
	if err != nil {
		t.Fatal(err)
	}
	h, got, err := DecodePublish(b)
	if err != nil || h != 7 || !proto.Equal(got, m) {
		t.Fatalf("publish round trip: %d %v %v", h, got, err)
	}
	if _, err := EncodePublish(7, &pluginv1.Message{Topic: "big@1", Payload: make([]byte, MaxMessage)}); err == nil {
		t.Error("a message larger than one packet was encoded")
	}
	if _, _, err := DecodePublish(append(b[:PublishHeaderSize:PublishHeaderSize], 0xff)); err == nil {
		t.Error("a garbled body decoded")
	}
}
