package worker

import (
	"testing"

	"github.com/lsie-mlf/lsie/host/capture"
)

func TestMessagesRoundTrip(t *testing.T) {
	f := frameMsg{region: 3, slot: 2, gen: 8, seq: 41, pts: -5, width: 640, height: 360, stride: 1920}
	if got, err := decodeFrame(f.encode(make([]byte, frameMsgSize))); err != nil || got != f {
		t.Fatalf("frame: %+v %v", got, err)
	}
	g := geometry{width: 640, height: 360, stride: 1920}
	if got, err := decodeGeometry(g.encode()); err != nil || got != g {
		t.Fatalf("geometry: %+v %v", got, err)
	}
	pcm := []byte{1, 0, 2, 0, 3, 0}
	a, err := decodeAudio(audioMsg(nil, &capture.AudioChunk{Data: pcm, Samples: 3, FirstSample: 16000, PTS: 1e9}))
	if err != nil || a.FirstSample != 16000 || a.PTS != 1e9 || a.Samples != 3 || string(a.Data) != string(pcm) {
		t.Fatalf("audio: %+v %v", a, err)
	}
	if v, err := decodeI64(i64Msg(make([]byte, 9), msgProgress, -7)); err != nil || v != -7 {
		t.Fatalf("i64: %d %v", v, err)
	}
}

// A capture process's messages are parsed by the host: none may panic it.
func FuzzDecode(f *testing.F) {
	f.Add(frameMsg{region: 1, slot: 1, gen: 2, width: 2, height: 2, stride: 6}.encode(make([]byte, frameMsgSize)))
	f.Add(geometry{width: 2, height: 2, stride: 6}.encode())
	f.Add(audioMsg(nil, &capture.AudioChunk{Data: make([]byte, 4), Samples: 2}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 {
			return
		}
		_, _ = decodeFrame(b)
		if g, err := decodeGeometry(b); err == nil && (g.width == 0 || uint64(g.stride)*uint64(g.height) > 1<<30) {
			t.Fatalf("accepted geometry %+v", g)
		}
		if a, err := decodeAudio(b); err == nil && (len(a.Data) != 2*a.Samples || a.Samples > capture.AudioChunkSamples) {
			t.Fatalf("accepted audio of %d bytes for %d samples", len(a.Data), a.Samples)
		}
		_, _, _ = decodeRegion(b)
		_, _, _ = decodeU32(b)
		_, _ = decodeI64(b)
	})
}
