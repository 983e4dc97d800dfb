// Package worker runs a stream's capture pipeline in a process of its own
// (docs/CAPTURE.md): GStreamer elements can abort or crash on odd media,
// and that must cost one stream, never the host. The worker writes frames
// into shared-memory regions the host creates and owns (mapped writable by
// the worker before the host seals them for plugins), into slots the host
// grants, and announces frames, audio and time-line progress over a
// SOCK_SEQPACKET socket; the host publishes them to plugins as it does for
// in-process capture.
package worker

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lsie-mlf/lsie/host/capture"
	"github.com/lsie-mlf/lsie/host/source"
	"github.com/lsie-mlf/lsie/shm"
)

// Message types. Host → worker: config, region, grant. Worker → host: the
// rest.
const (
	msgConfig   byte = 'C' // JSON Config
	msgRegion   byte = 'R' // id, slots, frame bytes + the memfd
	msgGrant    byte = 'G' // region, slot: write the next frame there
	msgNeed     byte = 'N' // a region for frames of this geometry
	msgMapped   byte = 'M' // region id: mapped; the host may seal it
	msgFrame    byte = 'F' // a frame written into a granted slot
	msgDropped  byte = 'D' // live: a frame with no granted slot, dropped
	msgAudio    byte = 'A' // a chunk of PCM
	msgGap      byte = 'g' // an audio gap
	msgNoAudio  byte = 'n'
	msgNoVideo  byte = 'v'
	msgProgress byte = 'P'
	msgState    byte = 'S' // JSON capture.SourceStatus
	msgAnchor   byte = 'W' // wall time at media time 0, unix ns
	msgEnd      byte = 'E' // JSON endMsg: Run returned
)

// Config is what a worker captures.
type Config struct {
	StreamID  string
	Handle    uint32 // the host's stream handle, stamped in slot headers
	Source    source.Spec
	FPS       int
	MaxWidth  int
	Realtime  bool
	Loop      bool
	Reconnect capture.Reconnect
	// LogLevel and LogJSON configure the worker's log (its stderr, which
	// the host passes through).
	LogLevel string
	LogJSON  bool
}

// frameMsg is one frame written into region/slot at generation gen.
type frameMsg struct {
	region, slot          uint32
	gen, seq              uint64
	pts                   int64
	width, height, stride uint32
}

const frameMsgSize = 1 + 4 + 4 + 8 + 8 + 8 + 4 + 4 + 4

// encode writes the message into b (len ≥ frameMsgSize) and returns it.
func (f frameMsg) encode(b []byte) []byte {
	b = b[:frameMsgSize]
	b[0] = msgFrame
	le := binary.LittleEndian
	le.PutUint32(b[1:], f.region)
	le.PutUint32(b[5:], f.slot)
	le.PutUint64(b[9:], f.gen)
	le.PutUint64(b[17:], f.seq)
	le.PutUint64(b[25:], uint64(f.pts))
	le.PutUint32(b[33:], f.width)
	le.PutUint32(b[37:], f.height)
	le.PutUint32(b[41:], f.stride)
	return b
}

func decodeFrame(b []byte) (frameMsg, error) {
	if len(b) != frameMsgSize {
		return frameMsg{}, fmt.Errorf("frame message: %d bytes, want %d", len(b), frameMsgSize)
	}
	le := binary.LittleEndian
	return frameMsg{region: le.Uint32(b[1:]), slot: le.Uint32(b[5:]), gen: le.Uint64(b[9:]), seq: le.Uint64(b[17:]),
		pts: int64(le.Uint64(b[25:])), width: le.Uint32(b[33:]), height: le.Uint32(b[37:]), stride: le.Uint32(b[41:])}, nil
}

// geometry is a region request: frames of this size.
type geometry struct{ width, height, stride uint32 }

func (g geometry) encode() []byte {
	b := make([]byte, 13)
	b[0] = msgNeed
	binary.LittleEndian.PutUint32(b[1:], g.width)
	binary.LittleEndian.PutUint32(b[5:], g.height)
	binary.LittleEndian.PutUint32(b[9:], g.stride)
	return b
}

func decodeGeometry(b []byte) (geometry, error) {
	if len(b) != 13 {
		return geometry{}, fmt.Errorf("region request: %d bytes", len(b))
	}
	le := binary.LittleEndian
	g := geometry{width: le.Uint32(b[1:]), height: le.Uint32(b[5:]), stride: le.Uint32(b[9:])}
	if g.width == 0 || g.height == 0 || g.stride < 3*g.width || uint64(g.stride)*uint64(g.height) > 1<<30 {
		return geometry{}, fmt.Errorf("region request: bad geometry %dx%d stride %d", g.width, g.height, g.stride)
	}
	return g, nil
}

// regionMsg announces a region (its memfd rides along).
func regionMsg(id uint32, spec shm.RegionSpec) []byte {
	b := make([]byte, 17)
	b[0] = msgRegion
	binary.LittleEndian.PutUint32(b[1:], id)
	binary.LittleEndian.PutUint32(b[5:], uint32(spec.Slots))
	binary.LittleEndian.PutUint64(b[9:], uint64(spec.FrameBytes))
	return b
}

func decodeRegion(b []byte) (uint32, shm.RegionSpec, error) {
	if len(b) != 17 {
		return 0, shm.RegionSpec{}, fmt.Errorf("region message: %d bytes", len(b))
	}
	le := binary.LittleEndian
	return le.Uint32(b[1:]), shm.RegionSpec{Slots: int(le.Uint32(b[5:])), FrameBytes: int(le.Uint64(b[9:]))}, nil
}

// u32Msg and u64Msg are the small fixed messages.
func u32Msg(t byte, a, b uint32) []byte {
	m := make([]byte, 9)
	m[0] = t
	binary.LittleEndian.PutUint32(m[1:], a)
	binary.LittleEndian.PutUint32(m[5:], b)
	return m
}

func decodeU32(m []byte) (uint32, uint32, error) {
	if len(m) != 9 {
		return 0, 0, fmt.Errorf("message %q: %d bytes", m[0], len(m))
	}
	return binary.LittleEndian.Uint32(m[1:]), binary.LittleEndian.Uint32(m[5:]), nil
}

// i64Msg writes a type and a value into m (len ≥ 9) and returns it.
func i64Msg(m []byte, t byte, v int64) []byte {
	m = m[:9]
	m[0] = t
	binary.LittleEndian.PutUint64(m[1:], uint64(v))
	return m
}

func decodeI64(m []byte) (int64, error) {
	if len(m) != 9 {
		return 0, fmt.Errorf("message %q: %d bytes", m[0], len(m))
	}
	return int64(binary.LittleEndian.Uint64(m[1:])), nil
}

// audioMsg carries one chunk: first sample, pts, then PCM; written into
// b's storage when it has room.
func audioMsg(b []byte, c *capture.AudioChunk) []byte {
	b = append(b[:0], make([]byte, 17+2*c.Samples)...)
	b[0] = msgAudio
	binary.LittleEndian.PutUint64(b[1:], uint64(c.FirstSample))
	binary.LittleEndian.PutUint64(b[9:], uint64(c.PTS))
	copy(b[17:], c.Data[:2*c.Samples])
	return b
}

func decodeAudio(b []byte) (capture.AudioChunk, error) {
	if len(b) < 17 || (len(b)-17)%2 != 0 || len(b)-17 > 2*capture.AudioChunkSamples {
		return capture.AudioChunk{}, fmt.Errorf("audio message: %d bytes", len(b))
	}
	return capture.AudioChunk{FirstSample: int64(binary.LittleEndian.Uint64(b[1:])), PTS: time.Duration(binary.LittleEndian.Uint64(b[9:])),
		Data: b[17:], Samples: (len(b) - 17) / 2}, nil
}

// jsonMsg is a rare message as JSON.
func jsonMsg(t byte, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // our own types
	}
	return append([]byte{t}, b...)
}

// endMsg is how Run ended.
type endMsg struct {
	// Source is set for a capture.SourceError.
	Source *capture.SourceError `json:",omitempty"`
	// StillImage: the SourceError's condition was capture.ErrStillImage.
	StillImage bool   `json:",omitempty"`
	Err        string `json:",omitempty"`
}

func endOf(err error) endMsg {
	var se *capture.SourceError
	switch {
	case err == nil:
		return endMsg{}
	case errors.As(err, &se):
		c := *se
		c.Err = nil // an error value does not travel as JSON; StillImage names it
		return endMsg{Source: &c, StillImage: errors.Is(err, capture.ErrStillImage)}
	}
	return endMsg{Err: err.Error()}
}

func (e endMsg) err() error {
	switch {
	case e.Source != nil:
		if e.StillImage {
			e.Source.Err = capture.ErrStillImage
		}
		return e.Source
	case e.Err != "":
		return errors.New(e.Err)
	}
	return nil
}
