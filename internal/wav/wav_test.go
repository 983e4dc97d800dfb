package wav

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	in := Sound{Rate: 16000, Samples: []float32{0, 0.5, -0.5, 1, -1, 0.25}}
	var b bytes.Buffer
	if err := Write(&b, in); err != nil {
		t.Fatal(err)
	}
	out, err := Parse(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if out.Rate != 16000 || len(out.Samples) != len(in.Samples) {
		t.Fatalf("got %d Hz, %d samples", out.Rate, len(out.Samples))
	}
	for i, v := range in.Samples {
		want := math.Min(float64(v), 32767.0/32768) // +1 clips to the largest code
		if math.Abs(float64(out.Samples[i])-want) > 1e-6 {
			t.Errorf("sample %d: %v, want %v", i, out.Samples[i], want)
		}
	}
}

func TestRejects(t *testing.T) {
	var b bytes.Buffer
	_ = Write(&b, Sound{Rate: 8000, Samples: []float32{0.1}})
	good := b.Bytes()
	cases := map[string][]byte{
		"empty":     nil,
		"not-riff":  []byte("RIFX\x00\x00\x00\x00WAVE"),
		"no-data":   good[:36],
		"8-bit":     patch(good, 34, 8),
		"float":     patch(good, 20, 3),
		"0-channel": patch(good, 22, 0),
	}
	for name, in := range cases {
		if _, err := Parse(in); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func patch(b []byte, at int, v byte) []byte {
	c := bytes.Clone(b)
	c[at], c[at+1] = v, 0
	return c
}

// FuzzParse checks that no input makes Parse panic or return samples
// outside [-1, 1).
func FuzzParse(f *testing.F) {
	var b bytes.Buffer
	_ = Write(&b, Sound{Rate: 16000, Samples: []float32{0.1, -0.2, 0.3}})
	f.Add(b.Bytes())
	f.Add([]byte("RIFF\xff\xff\xff\xffWAVEfmt \x10\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := Parse(in)
		if err != nil {
			return
		}
		if s.Rate <= 0 {
			t.Fatalf("rate %d accepted", s.Rate)
		}
		for _, v := range s.Samples {
			if v < -1 || v >= 1 {
				t.Fatalf("sample %v out of range", v)
			}
		}
	})
}

// PCM16 gives back exactly the samples written.
func TestPCM16Exact(t *testing.T) {
	want := []int16{0, 1, -1, 32767, -32768, 12345, -2}
	s := Sound{Rate: 16000, Samples: make([]float32, len(want))}
	for i, v := range want {
		s.Samples[i] = float32(v) / 32768
	}
	path := t.TempDir() + "/x.wav"
	if err := WriteFile(path, s); err != nil {
		t.Fatal(err)
	}
	got, err := ReadMono16k(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	s.Rate = 8000
	if err := WriteFile(path, s); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadMono16k(path); err == nil || !strings.Contains(err.Error(), "8000 Hz") {
		t.Fatalf("8 kHz file: %v", err)
	}
}
