package host

import (
	"fmt"
	"time"

	"github.com/lsie-mlf/lsie/host/capture"
	"github.com/lsie-mlf/lsie/host/plugin"
	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
	"github.com/lsie-mlf/lsie/sdk/topic"
	"github.com/lsie-mlf/lsie/shm"
	"github.com/lsie-mlf/lsie/shm/cuda"
)

// frameStore is where a stream's analysis frames are written for its video
// consumers: a memfd region (video.memory = "host") or a pool of buffers on
// a GPU (memory = "cuda", see deviceProvider). Slot leases, descriptors and
// acks are one protocol for both; only the region announcement and the copy
// differ.
//
// A store has one or more views of each slot. View 0 is the frame as
// captured; a GPU store adds one view per model input its plugins declare
// (video.rgbf32.cuda), preprocessed once per frame. Views share the slot, its
// lease and its generation, so a consumer of any view acks the same slot.
type frameStore interface {
	Leases() *shm.Pool
	// Fits reports whether f can be written to this store's slots.
	Fits(f *capture.Frame) bool
	// Write copies f into slot, which the caller owns, derives every other
	// view of it, and returns view 0's descriptor, ready to publish.
	Write(slot int, f *capture.Frame, stream uint32) (shm.Descriptor, error)
	// View returns the descriptor of view v of the frame d (view 0) describes.
	View(v int, d *shm.Descriptor) shm.Descriptor
	// Announce sends view v's region to a plugin, before any of its frames.
	Announce(p *plugin.Process, v int) error
	// Regions lists every view's region id, for DropRegion.
	Regions() []uint32
	Close() error
}

// memfdStore is a sealed memfd region of RGB24 frames; it has one view.
type memfdStore struct {
	r      *shm.Region
	leases *shm.Pool
}

func newMemfdStore(id uint32, name string, slots, frameBytes int) (*memfdStore, error) {
	r, err := shm.CreateRegion(id, name, shm.RegionSpec{Slots: slots, FrameBytes: frameBytes})
	if err != nil {
		return nil, err
	}
	return &memfdStore{r: r, leases: shm.NewPool(r)}, nil
}

func (m *memfdStore) Leases() *shm.Pool                            { return m.leases }
func (m *memfdStore) View(_ int, d *shm.Descriptor) shm.Descriptor { return *d }
func (m *memfdStore) Regions() []uint32                            { return []uint32{m.r.ID()} }

func (m *memfdStore) Fits(f *capture.Frame) bool {
	return f.Format == shm.FormatRGB24 && m.r.Spec().FrameBytes >= f.Stride*f.Height
}

func (m *memfdStore) Write(slot int, f *capture.Frame, stream uint32) (shm.Descriptor, error) {
	size := f.Stride * f.Height
	dst := m.r.BeginWrite(slot)
	copy(dst[:size], f.Data)
	gen := m.r.EndWrite(slot, stream, f.Seq, int64(f.PTS), size)
	return m.descriptor(slot, gen, stream, f.Width, f.Height, f.Stride, f.Seq, f.PTS), nil
}

// descriptor describes an RGB24 frame written into slot at generation gen
// (by Write, or by a capture process: streamRunner.Written).
func (m *memfdStore) descriptor(slot int, gen uint64, stream uint32, width, height, stride int, seq uint64, pts time.Duration) shm.Descriptor {
	return shm.Descriptor{Stream: stream, Region: m.r.ID(), Slot: uint32(slot), Memory: shm.MemoryHost,
		Format: shm.FormatRGB24, Width: uint32(width), Height: uint32(height), Stride: uint32(stride),
		Generation: gen, Seq: seq, PTS: int64(pts)}
}

func (m *memfdStore) Announce(p *plugin.Process, _ int) error { return p.SendRegion(m.r) }

func (m *memfdStore) Close() error {
	err := m.leases.Close()
	if cerr := m.r.Close(); err == nil {
		err = cerr
	}
	return err
}

// deviceSpec is the geometry of a stream's pool of GPU frame buffers.
type deviceSpec struct {
	Device int // CUDA ordinal
	// IDs are the region ids of the views: the NV12 frames, then one per tensor.
	IDs           []uint32
	Slots         int
	Width, Height int // NV12
	// Tensors are the model inputs made from each frame (views 1..).
	Tensors []cuda.PreprocessSpec
}

// deviceProvider opens pools of frame buffers on a GPU. The cuda build
// registers shm/cuda's (device_cuda.go); the default build has none, and
// tests plug in a host-memory stand-in, since this machine has no GPU.
type deviceProvider interface {
	// Probe says whether device ordinal is usable, and why not.
	Probe(ordinal int) error
	Open(spec deviceSpec) (frameStore, error)
	// Decoder returns the context for capture's GPU branch on device
	// ordinal (nvcodec scaling and conversion, frames straight into the
	// pool), or why frames are to be converted on the CPU and uploaded.
	Decoder(ordinal int) (*capture.GPU, error)
}

// builtinDevices is this build's provider; nil without -tags cuda.
var builtinDevices deviceProvider

// devices is the provider this host uses; nil means no CUDA in this build.
func (h *Host) devices() deviceProvider {
	if h.opts.devices != nil {
		return h.opts.devices
	}
	return builtinDevices
}

// copyNV12 lays f's two planes out as a device buffer holds them: luma rows,
// then (Height+1)/2 interleaved chroma rows, every row pitch bytes apart.
// GStreamer pads its rows differently (and may place the chroma plane
// anywhere), so rows are copied one by one.
func copyNV12(dst []byte, pitch int, f *capture.Frame) error {
	if f.Format != shm.FormatNV12 {
		return fmt.Errorf("frame format %s, want NV12", f.Format)
	}
	chromaRows := (f.Height + 1) / 2
	rowBytes := f.Width + f.Width&1 // chroma rows hold whole U,V pairs
	if pitch < rowBytes || len(dst) < pitch*(f.Height+chromaRows) ||
		len(f.Data) < f.Stride*(f.Height-1)+f.Width || len(f.UV) < f.UVStride*(chromaRows-1)+rowBytes {
		return fmt.Errorf("NV12 %dx%d (stride %d, %d bytes; chroma stride %d, %d bytes) does not fit %d bytes at pitch %d",
			f.Width, f.Height, f.Stride, len(f.Data), f.UVStride, len(f.UV), len(dst), pitch)
	}
	for y := range f.Height {
		copy(dst[y*pitch:y*pitch+f.Width], f.Data[y*f.Stride:])
	}
	uv := dst[f.Height*pitch:]
	for y := range chromaRows {
		copy(uv[y*pitch:y*pitch+rowBytes], f.UV[y*f.UVStride:])
	}
	return nil
}

// deviceInputSpec reads the tensor a plugin declares for video.rgbf32.cuda.
func deviceInputSpec(m *pluginv1.Manifest) (cuda.PreprocessSpec, error) {
	d := m.GetDeviceInput()
	if d == nil {
		return cuda.PreprocessSpec{}, fmt.Errorf("consumes %s but its manifest declares no device_input (the tensor's size and normalisation)", topic.VideoRGBF32CUDA)
	}
	spec := cuda.PreprocessSpec{Width: int(d.GetWidth()), Height: int(d.GetHeight()), Std: [3]float32{1, 1, 1}}
	for _, v := range []struct {
		name string
		in   []float32
		out  *[3]float32
	}{{"mean", d.GetMean(), &spec.Mean}, {"std", d.GetStd(), &spec.Std}} {
		switch len(v.in) {
		case 0:
		case 3:
			copy(v.out[:], v.in)
		default:
			return cuda.PreprocessSpec{}, fmt.Errorf("manifest device_input.%s has %d values, want 3 (R, G, B) or none", v.name, len(v.in))
		}
	}
	if err := spec.Validate(); err != nil {
		return cuda.PreprocessSpec{}, fmt.Errorf("manifest device_input: %w", err)
	}
	return spec, nil
}
