//go:build cuda

package cudaframe

import (
	"errors"
	"fmt"
	"sync"

	"github.com/lsie-mlf/lsie/sdk/internal/server"
	"github.com/lsie-mlf/lsie/shm"
	"github.com/lsie-mlf/lsie/shm/cuda"
	"gorgonia.org/cu"
)

func init() {
	server.RegisterCUDA(func() server.CUDAFrames {
		return &cudaFrames{openers: map[uint16]*Opener{}, streams: map[streamKey]cu.Stream{}}
	})
}

type streamKey struct {
	handle uint32
	device uint16
}

// cudaFrames opens a device when its first region arrives, so a plugin
// built with -tags cuda that only gets host-memory frames never touches one,
// and gives each video stream its own CUDA stream, so that one stream's
// Done does not wait for another's kernels.
type cudaFrames struct {
	mu      sync.Mutex
	openers map[uint16]*Opener
	streams map[streamKey]cu.Stream
}

func (c *cudaFrames) AddRegion(msg []byte, fds []int) error {
	info, err := cuda.ParseRegion(msg)
	if err != nil {
		server.CloseFDs(fds)
		return err
	}
	c.mu.Lock()
	o := c.openers[info.Device]
	if o == nil {
		if o, err = NewOpener(int(info.Device)); err != nil {
			c.mu.Unlock()
			server.CloseFDs(fds)
			return fmt.Errorf("cuda region %d: %w", info.ID, err)
		}
		c.openers[info.Device] = o
	}
	c.mu.Unlock()
	// A region that moved to another device must not linger on the old one.
	if err := c.dropExcept(info.ID, info.Device); err != nil {
		server.CloseFDs(fds)
		return err
	}
	return o.AddRegion(msg, fds)
}

func (c *cudaFrames) DropRegion(id uint32) error { return c.dropExcept(id, 0xffff) }

// dropExcept closes region id on every device but keep (0xffff: none is a
// valid ordinal here, so all).
func (c *cudaFrames) dropExcept(id uint32, keep uint16) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for dev, o := range c.openers {
		if dev != keep {
			errs = append(errs, o.DropRegion(id))
		}
	}
	return errors.Join(errs...)
}

func (c *cudaFrames) Frame(handle uint32, d *shm.Descriptor) (server.DeviceFrame, error) {
	key := streamKey{handle, d.Device}
	c.mu.Lock()
	o := c.openers[d.Device]
	if o == nil {
		c.mu.Unlock()
		return nil, fmt.Errorf("cuda region %d is not open (no region on device %d)", d.Region, d.Device)
	}
	s, ok := c.streams[key]
	if !ok {
		var err error
		if s, err = o.NewStream(); err != nil {
			c.mu.Unlock()
			return nil, err
		}
		c.streams[key] = s
	}
	c.mu.Unlock()
	f, err := o.FrameOn(d, s)
	if err != nil {
		return nil, err
	}
	return deviceFrame{f}, nil
}

func (c *cudaFrames) CloseStream(handle uint32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for key, s := range c.streams {
		if key.handle == handle {
			errs = append(errs, c.openers[key.device].DestroyStream(s))
			delete(c.streams, key)
		}
	}
	return errors.Join(errs...)
}

type deviceFrame struct{ f *Frame }

func (d deviceFrame) View() server.DeviceView {
	return server.DeviceView{Ordinal: d.f.Device().Ordinal(), Ptr: uintptr(d.f.Ptr), Stream: RawStream(d.f.Stream)}
}

func (d deviceFrame) Done() error { return d.f.Done() }
