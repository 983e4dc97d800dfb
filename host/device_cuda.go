//go:build cuda

package host

import (
	"sync"

	"github.com/lsie-mlf/lsie/host/capture"
	"github.com/lsie-mlf/lsie/host/plugin"
	"github.com/lsie-mlf/lsie/shm"
	"github.com/lsie-mlf/lsie/shm/cuda"
)

func init() { builtinDevices = &cudaDevices{open: map[int]*cuda.Device{}} }

// cudaDevices opens frame pools on the host's GPUs, each in its primary
// context, which every stream on that device shares.
type cudaDevices struct {
	mu   sync.Mutex
	open map[int]*cuda.Device
}

func (d *cudaDevices) device(ordinal int) (*cuda.Device, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if dev := d.open[ordinal]; dev != nil {
		return dev, nil
	}
	dev, err := cuda.OpenDevice(ordinal)
	if err != nil {
		return nil, err
	}
	d.open[ordinal] = dev
	return dev, nil
}

func (d *cudaDevices) Probe(ordinal int) error {
	_, err := d.device(ordinal)
	return err
}

func (d *cudaDevices) Decoder(ordinal int) (*capture.GPU, error) {
	dev, err := d.device(ordinal)
	if err != nil {
		return nil, err
	}
	if err := capture.GPUUsable(); err != nil {
		return nil, err
	}
	return &capture.GPU{Context: dev.Context(), Device: dev.Ordinal()}, nil
}

func (d *cudaDevices) Open(spec deviceSpec) (frameStore, error) {
	dev, err := d.device(spec.Device)
	if err != nil {
		return nil, err
	}
	p, err := cuda.NewPool(dev, cuda.PoolSpec{ID: spec.IDs[0], Slots: spec.Slots, Format: shm.FormatNV12, Width: spec.Width, Height: spec.Height})
	if err != nil {
		return nil, err
	}
	c := &cudaStore{pool: p}
	for i, t := range spec.Tensors {
		v, err := p.AddView(spec.IDs[1+i], t)
		if err != nil {
			_ = p.Close()
			return nil, err
		}
		c.views = append(c.views, v)
	}
	return c, nil
}

// cudaStore is a cuda.Pool as a stream's frame store: each frame goes into
// its slot's pinned staging buffer, then to the device asynchronously, and
// the views' preprocessing kernels follow it on the same stream.
type cudaStore struct {
	pool  *cuda.Pool
	views []*cuda.View
}

func (c *cudaStore) Leases() *shm.Pool { return c.pool.Leases() }
func (c *cudaStore) Regions() []uint32 {
	ids := []uint32{c.pool.Info().ID}
	for _, v := range c.views {
		ids = append(ids, v.Info().ID)
	}
	return ids
}

func (c *cudaStore) Fits(f *capture.Frame) bool {
	in := c.pool.Info()
	return f.Format == shm.FormatNV12 && uint32(f.Width) == in.Width && uint32(f.Height) == in.Height
}

func (c *cudaStore) Write(slot int, f *capture.Frame, stream uint32) (d shm.Descriptor, err error) {
	if f.Device {
		// Scaled and converted by nvcodec in this context: device to device.
		d, err = c.pool.CopyFrom(slot, f.DeviceY, f.Stride, f.DeviceUV, f.UVStride, stream, f.Seq, int64(f.PTS))
	} else {
		var staging []byte
		if staging, err = c.pool.Staging(slot); err != nil {
			return shm.Descriptor{}, err
		}
		if err := copyNV12(staging, c.pool.Pitch(), f); err != nil {
			return shm.Descriptor{}, err
		}
		d, err = c.pool.Upload(slot, stream, f.Seq, int64(f.PTS))
	}
	if err != nil {
		return shm.Descriptor{}, err
	}
	if err := c.pool.Preprocess(slot); err != nil {
		return shm.Descriptor{}, err
	}
	return d, nil
}

func (c *cudaStore) View(v int, d *shm.Descriptor) shm.Descriptor {
	if v == 0 {
		return *d
	}
	return c.views[v-1].Info().Descriptor(int(d.Slot), d.Stream, d.Generation, d.Seq, d.PTS)
}

func (c *cudaStore) Announce(p *plugin.Process, v int) error {
	info := c.pool.Info()
	if v > 0 {
		info = c.views[v-1].Info()
	}
	return p.SendCUDARegion(info, c.pool.HeaderFd())
}

func (c *cudaStore) Close() error { return c.pool.Close() }
