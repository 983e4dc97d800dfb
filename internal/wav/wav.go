// Package wav reads and writes the one WAV layout the model plugins' tests
// and benchmarks exchange with Praat, espeak-ng and festival: 16-bit PCM,
// mono or more channels (the first is used). It is test tooling, not a
// general codec: the host's audio comes through GStreamer.
package wav

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// Sound is a decoded mono signal in [-1, 1).
type Sound struct {
	Rate    int
	Samples []float32
}

// maxSamples bounds what Parse accepts (an hour at 16 kHz), so a corrupt
// header cannot ask for an absurd allocation.
const maxSamples = 3600 * 48000

// Parse decodes a RIFF/WAVE file of 16-bit PCM. Chunks other than "fmt "
// and "data" are skipped; a data chunk that claims more bytes than remain is
// read to the end of the input (as recorders that never patched the size
// leave it).
func Parse(b []byte) (Sound, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return Sound{}, errors.New("wav: not a RIFF/WAVE file")
	}
	var rate, channels, bits int
	haveFmt := false
	for p := 12; p+8 <= len(b); {
		id := string(b[p : p+4])
		size := int64(binary.LittleEndian.Uint32(b[p+4 : p+8]))
		body := b[p+8:]
		if size < int64(len(body)) {
			body = body[:size]
		}
		switch id {
		case "fmt ":
			if len(body) < 16 {
				return Sound{}, errors.New("wav: short fmt chunk")
			}
			format := binary.LittleEndian.Uint16(body[0:2])
			channels = int(binary.LittleEndian.Uint16(body[2:4]))
			rate = int(binary.LittleEndian.Uint32(body[4:8]))
			bits = int(binary.LittleEndian.Uint16(body[14:16]))
			if format != 1 && format != 0xFFFE {
				return Sound{}, fmt.Errorf("wav: format %d is not PCM", format)
			}
			if bits != 16 || channels < 1 || rate <= 0 {
				return Sound{}, fmt.Errorf("wav: %d-bit, %d channels, %d Hz: need 16-bit PCM", bits, channels, rate)
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return Sound{}, errors.New("wav: data before fmt")
			}
			frame := 2 * channels
			n := len(body) / frame
			if n > maxSamples {
				return Sound{}, fmt.Errorf("wav: %d samples is more than this reader takes", n)
			}
			s := Sound{Rate: rate, Samples: make([]float32, n)}
			for i := range s.Samples {
				s.Samples[i] = float32(int16(binary.LittleEndian.Uint16(body[i*frame:]))) / 32768
			}
			return s, nil
		}
		// Chunks are padded to even sizes.
		next := int64(p) + 8 + size + size%2
		if next > int64(len(b)) {
			break
		}
		p = int(next)
	}
	return Sound{}, errors.New("wav: no data chunk")
}

// ReadFile parses the WAV file at path.
func ReadFile(path string) (Sound, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Sound{}, err
	}
	s, err := Parse(b)
	if err != nil {
		return Sound{}, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// Write encodes s as 16-bit mono PCM, rounding and clipping to full scale.
func Write(w io.Writer, s Sound) error {
	data := make([]byte, 2*len(s.Samples))
	for i, v := range s.Samples {
		q := math.Round(float64(v) * 32768)
		q = math.Max(-32768, math.Min(32767, q))
		if math.IsNaN(q) {
			q = 0
		}
		binary.LittleEndian.PutUint16(data[2*i:], uint16(int16(q)))
	}
	h := make([]byte, 44)
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], uint32(36+len(data)))
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1)
	binary.LittleEndian.PutUint16(h[22:], 1)
	binary.LittleEndian.PutUint32(h[24:], uint32(s.Rate))
	binary.LittleEndian.PutUint32(h[28:], uint32(2*s.Rate))
	binary.LittleEndian.PutUint16(h[32:], 2)
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], uint32(len(data)))
	if _, err := w.Write(h); err != nil {
		return err
	}
	_, err := w.Write(data)
	return err
}

// WriteFile writes s to path (see Write).
func WriteFile(path string, s Sound) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := Write(f, s); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// PCM16 returns s's samples as 16-bit integers: exactly the file's samples,
// since Parse divides them by 32768, which float32 represents exactly.
func (s Sound) PCM16() []int16 {
	out := make([]int16, len(s.Samples))
	for i, v := range s.Samples {
		out[i] = int16(math.Max(-32768, math.Min(32767, math.Round(float64(v)*32768))))
	}
	return out
}

// ReadMono16k reads a 16 kHz WAV file's first channel as 16-bit samples,
// the host's audio format; another rate is an error naming it.
func ReadMono16k(path string) ([]int16, error) {
	s, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	if s.Rate != 16000 {
		return nil, fmt.Errorf("%s: %d Hz, want 16000", path, s.Rate)
	}
	return s.PCM16(), nil
}
