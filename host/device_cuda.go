//go:build cuda

package host

import (
	"sync"

	"github.com/lsie-mlf/lsie/host/capture"
	"github.com/lsie-mlf/lsie/host/plugin"
	"github.com/lsie-mlf/lsie/shm"
	"github.com/lsie-mlf/lsie/shm/cuda"
)

func init() { builtinDevices = &cudaDevices{} }

// cudaDevices opens frame pools on device 0, whose primary context every
// stream of the host shares.
type cudaDevices struct {
	once sync.Once
	dev  *cuda.Device
	err  error
}

func (d *cudaDevices) device() (*cuda.Device, error) {
	d.once.Do(func() { d.dev, d.err = cuda.OpenDevice(0) })
	return d.dev, d.err
}

func (d *cudaDevices) Probe() error {
	if err := cuda.Available(); err != nil {
		return err
	}
	_, err := d.device()
	return err
}

func (d *cudaDevices) Open(spec deviceSpec) (frameStore, error) {
	dev, err := d.device()
	if err != nil {
		return nil, err
	}
	p, err := cuda.NewPool(dev, cuda.PoolSpec{ID: spec.ID, Slots: spec.Slots, Format: shm.FormatNV12, Width: spec.Width, Height: spec.Height})
	if err != nil {
		return nil, err
	}
	return &cudaStore{pool: p, width: spec.Width, height: spec.Height}, nil
}

// cudaStore is a cuda.Pool as a stream's frame store: each frame goes into
// its slot's pinned staging buffer, then to the device asynchronously.
type cudaStore struct {
	pool          *cuda.Pool
	width, height int
}

func (c *cudaStore) ID() uint32        { return c.pool.Info().ID }
func (c *cudaStore) Leases() *shm.Pool { return c.pool.Leases() }

func (c *cudaStore) Fits(f *capture.Frame) bool {
	return f.Format == shm.FormatNV12 && f.Width == c.width && f.Height == c.height
}

func (c *cudaStore) Write(slot int, f *capture.Frame, stream uint32) (shm.Descriptor, error) {
	staging, err := c.pool.Staging(slot)
	if err != nil {
		return shm.Descriptor{}, err
	}
	if err := copyNV12(staging, c.pool.Pitch(), f); err != nil {
		return shm.Descriptor{}, err
	}
	return c.pool.Upload(slot, stream, f.Seq, int64(f.PTS))
}

func (c *cudaStore) Announce(p *plugin.Process) error {
	return p.SendCUDARegion(c.pool.Info(), c.pool.HeaderFd())
}

func (c *cudaStore) Close() error { return c.pool.Close() }
