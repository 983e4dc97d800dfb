// Package dataplane is the binary half of plugin protocol v1: the small
// fixed records that travel over the SOCK_SEQPACKET socket a plugin inherits
// at fd 3. gRPC carries control and results' schema; this socket carries
// region fds (SCM_RIGHTS), per-frame descriptors and acks, because a gRPC
// round trip costs several times a raw socket's (see docs/BENCHMARKS.md).
//
// Every message is one packet whose first byte is its type; integers are
// little-endian. SEQPACKET keeps boundaries, so there is no length prefix.
package dataplane

import (
	"encoding/binary"
	"fmt"

	"github.com/lsie-mlf/lsie/shm"
)

// FD is the descriptor number at which a plugin inherits the data-plane socket.
const FD = 3

// Message types. Host → plugin below 0x80, plugin → host from 0x80.
const (
	MsgRegion     byte = 0x01 // a region fd is attached
	MsgFrame      byte = 0x02 // one frame descriptor
	MsgDropRegion byte = 0x03 // the plugin must unmap a region
	MsgAudio      byte = 0x04 // an audio chunk, a gap, or "this stream has no audio"
	MsgDeliver    byte = 0x05 // a topic message for a consumer (encoded pluginv1.Message)
	// MsgCUDARegion announces a CUDA region (shm/cuda.MsgRegion, which
	// defines its layout) with its header region's fd attached. A plugin
	// built without the cuda tag logs it and fails that region's frames.
	MsgCUDARegion byte = 0x06
	MsgResult     byte = 0x81 // ack of a frame plus its encoded pluginv1.Result
	MsgPublish    byte = 0x82 // a topic message a producer publishes (encoded pluginv1.Message)
)

// Sizes of the fixed messages.
const (
	RegionSize        = 16
	FrameSize         = 8 + shm.DescriptorSize
	DropRegionSize    = 8
	ResultHeaderSize  = 24
	AudioHeaderSize   = 48
	DeliverHeaderSize = 16
	PublishHeaderSize = 8
	// MaxMessage bounds one packet; results larger than this are an error.
	MaxMessage = 64 << 10
	// StreamQueue is how many inputs a plugin queues per stream. The host
	// keeps fewer than this in flight per (stream, plugin) — frames within
	// their window (≤ 64), audio records (≤ 50 unanswered, plus ≤ 600
	// answered ones handed again after a restart), topic messages (≤ 16) —
	// so a plugin's reader never waits for one stream's queue, and one slow
	// stream never holds up the others (docs/DATAPLANE.md).
	StreamQueue = 1024
)

// Region announces a shared-memory region whose fd rides along.
type Region struct {
	ID   uint32
	Spec shm.RegionSpec
}

// PutRegion encodes r into b and returns the length used.
func PutRegion(b []byte, r Region) int {
	b[0] = MsgRegion
	clear(b[1:4])
	binary.LittleEndian.PutUint32(b[4:], r.ID)
	binary.LittleEndian.PutUint32(b[8:], uint32(r.Spec.Slots))
	binary.LittleEndian.PutUint32(b[12:], uint32(r.Spec.FrameBytes))
	return RegionSize
}

// ParseRegion decodes a MsgRegion packet.
func ParseRegion(b []byte) (Region, error) {
	if len(b) != RegionSize || b[0] != MsgRegion {
		return Region{}, fmt.Errorf("region message: want %d bytes of type %#x, got %d bytes", RegionSize, MsgRegion, len(b))
	}
	r := Region{
		ID: binary.LittleEndian.Uint32(b[4:]),
		Spec: shm.RegionSpec{
			Slots:      int(binary.LittleEndian.Uint32(b[8:])),
			FrameBytes: int(binary.LittleEndian.Uint32(b[12:])),
		},
	}
	if err := r.Spec.Validate(); err != nil {
		return Region{}, fmt.Errorf("region message: %w", err)
	}
	return r, nil
}

// PutFrame encodes a frame descriptor into b and returns the length used.
func PutFrame(b []byte, d *shm.Descriptor) int {
	b[0] = MsgFrame
	clear(b[1:8])
	d.Put(b[8:])
	return FrameSize
}

// ParseFrame decodes a MsgFrame packet into d.
func ParseFrame(b []byte, d *shm.Descriptor) error {
	if len(b) != FrameSize || b[0] != MsgFrame {
		return fmt.Errorf("frame message: want %d bytes of type %#x, got %d bytes", FrameSize, MsgFrame, len(b))
	}
	return d.Parse(b[8:])
}

// PutDropRegion encodes a request to unmap region id.
func PutDropRegion(b []byte, id uint32) int {
	b[0] = MsgDropRegion
	clear(b[1:4])
	binary.LittleEndian.PutUint32(b[4:], id)
	return DropRegionSize
}

// ParseDropRegion decodes a MsgDropRegion packet.
func ParseDropRegion(b []byte) (uint32, error) {
	if len(b) != DropRegionSize || b[0] != MsgDropRegion {
		return 0, fmt.Errorf("drop-region message: want %d bytes, got %d", DropRegionSize, len(b))
	}
	return binary.LittleEndian.Uint32(b[4:]), nil
}

// Ack identifies the slot lease a result ends.
type Ack struct {
	Region     uint32
	Slot       uint32
	Generation uint64
	Handle     uint32
}

// PutResultHeader writes the ack header; the encoded Result follows it.
func PutResultHeader(b []byte, a Ack) int {
	b[0] = MsgResult
	clear(b[1:4])
	binary.LittleEndian.PutUint32(b[4:], a.Region)
	binary.LittleEndian.PutUint32(b[8:], a.Slot)
	binary.LittleEndian.PutUint32(b[12:], a.Handle)
	binary.LittleEndian.PutUint64(b[16:], a.Generation)
	return ResultHeaderSize
}

// ParseResult splits a MsgResult packet into its ack and encoded Result.
func ParseResult(b []byte) (Ack, []byte, error) {
	if len(b) < ResultHeaderSize || b[0] != MsgResult {
		return Ack{}, nil, fmt.Errorf("result message: want at least %d bytes of type %#x, got %d bytes", ResultHeaderSize, MsgResult, len(b))
	}
	a := Ack{
		Region:     binary.LittleEndian.Uint32(b[4:]),
		Slot:       binary.LittleEndian.Uint32(b[8:]),
		Handle:     binary.LittleEndian.Uint32(b[12:]),
		Generation: binary.LittleEndian.Uint64(b[16:]),
	}
	return a, b[ResultHeaderSize:], nil
}

// Audio flags.
const (
	AudioGap     byte = 1 // samples [FirstSample, FirstSample+Samples) will never come
	AudioNoAudio byte = 2 // the stream has no audio track
	AudioEnd     byte = 4 // the stream's audio has ended: flush what is pending
)

// Audio is one audio record: S16LE mono PCM follows the header unless it is
// a gap or a no-audio notice. Audio travels as bytes (Contract 2): at 16 kHz
// it is 32 KB/s, not worth shared memory, and it must be lossless.
type Audio struct {
	Flags       byte
	Handle      uint32
	FirstSample int64
	PTS         int64
	Seq         uint64
	Samples     uint32
	Rate        uint32
	// CapturedNanos is CLOCK_MONOTONIC when capture handed the chunk to the
	// host: the start of capture-to-plugin latency.
	CapturedNanos int64
}

// PutAudio writes the header into b and returns its length; the caller
// appends 2*Samples bytes of PCM for a chunk.
func PutAudio(b []byte, a Audio) int {
	b[0] = MsgAudio
	b[1] = a.Flags
	clear(b[2:4])
	binary.LittleEndian.PutUint32(b[4:], a.Handle)
	binary.LittleEndian.PutUint64(b[8:], uint64(a.FirstSample))
	binary.LittleEndian.PutUint64(b[16:], uint64(a.PTS))
	binary.LittleEndian.PutUint64(b[24:], a.Seq)
	binary.LittleEndian.PutUint32(b[32:], a.Samples)
	binary.LittleEndian.PutUint32(b[36:], a.Rate)
	binary.LittleEndian.PutUint64(b[40:], uint64(a.CapturedNanos))
	return AudioHeaderSize
}

// ParseAudio decodes an audio record and returns its PCM payload.
func ParseAudio(b []byte) (Audio, []byte, error) {
	if len(b) < AudioHeaderSize || b[0] != MsgAudio {
		return Audio{}, nil, fmt.Errorf("audio message: want at least %d bytes of type %#x, got %d bytes", AudioHeaderSize, MsgAudio, len(b))
	}
	a := Audio{
		Flags:       b[1],
		Handle:      binary.LittleEndian.Uint32(b[4:]),
		FirstSample: int64(binary.LittleEndian.Uint64(b[8:])),
		PTS:         int64(binary.LittleEndian.Uint64(b[16:])),
		Seq:         binary.LittleEndian.Uint64(b[24:]),
		Samples:     binary.LittleEndian.Uint32(b[32:]),
		Rate:        binary.LittleEndian.Uint32(b[36:]),

		CapturedNanos: int64(binary.LittleEndian.Uint64(b[40:])),
	}
	pcm := b[AudioHeaderSize:]
	switch {
	case a.Flags&^(AudioGap|AudioNoAudio|AudioEnd) != 0:
		return Audio{}, nil, fmt.Errorf("audio message: unknown flags %#x", a.Flags)
	case a.Flags == 0 && len(pcm) != 2*int(a.Samples):
		return Audio{}, nil, fmt.Errorf("audio message: %d samples but %d PCM bytes", a.Samples, len(pcm))
	case a.Flags != 0 && len(pcm) != 0:
		return Audio{}, nil, fmt.Errorf("audio message: a gap or no-audio notice carries %d PCM bytes", len(pcm))
	case a.Flags == 0 && a.Rate == 0:
		return Audio{}, nil, fmt.Errorf("audio message: sample rate 0")
	case a.FirstSample < 0:
		return Audio{}, nil, fmt.Errorf("audio message: first sample %d < 0", a.FirstSample)
	}
	return a, pcm, nil
}

// Deliver heads one topic message for stream Handle; Seq is the consumer's
// delivery sequence, which its result (Input MESSAGE) carries back as ack.
type Deliver struct {
	Handle uint32
	Seq    uint64
}

// PutDeliverHeader writes the header; the encoded pluginv1.Message follows.
func PutDeliverHeader(b []byte, d Deliver) int {
	b[0] = MsgDeliver
	clear(b[1:4])
	binary.LittleEndian.PutUint32(b[4:], d.Handle)
	binary.LittleEndian.PutUint64(b[8:], d.Seq)
	return DeliverHeaderSize
}

// ParseDeliver splits a MsgDeliver packet into its header and body.
func ParseDeliver(b []byte) (Deliver, []byte, error) {
	if len(b) < DeliverHeaderSize || b[0] != MsgDeliver {
		return Deliver{}, nil, fmt.Errorf("deliver message: want at least %d bytes of type %#x, got %d bytes", DeliverHeaderSize, MsgDeliver, len(b))
	}
	return Deliver{Handle: binary.LittleEndian.Uint32(b[4:]), Seq: binary.LittleEndian.Uint64(b[8:])}, b[DeliverHeaderSize:], nil
}

// PutPublishHeader writes the header of a message a plugin publishes on
// stream handle; the encoded pluginv1.Message follows.
func PutPublishHeader(b []byte, handle uint32) int {
	b[0] = MsgPublish
	clear(b[1:4])
	binary.LittleEndian.PutUint32(b[4:], handle)
	return PublishHeaderSize
}

// ParsePublish splits a MsgPublish packet into its stream handle and body.
func ParsePublish(b []byte) (uint32, []byte, error) {
	if len(b) < PublishHeaderSize || b[0] != MsgPublish {
		return 0, nil, fmt.Errorf("publish message: want at least %d bytes of type %#x, got %d bytes", PublishHeaderSize, MsgPublish, len(b))
	}
	return binary.LittleEndian.Uint32(b[4:]), b[PublishHeaderSize:], nil
}
