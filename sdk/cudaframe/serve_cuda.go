//go:build cuda

package cudaframe

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"

	"github.com/lsie-mlf/lsie/sdk/proto/dataplane"
	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
	"github.com/lsie-mlf/lsie/shm"
	"github.com/lsie-mlf/lsie/shm/cuda"
	"google.golang.org/protobuf/proto"
)

// Handler computes a frame's fields, for host-memory and for CUDA frames.
type Handler interface {
	// HostFrame gets a frame of a memfd region; pix is read-only.
	HostFrame(d *shm.Descriptor, pix []byte) (map[string]float64, error)
	// DeviceFrame queues its kernels on f.Stream; ServeDataPlane calls
	// f.Done before it acks, so the handler may return before they finish
	// only if it reads no results back.
	DeviceFrame(f *Frame) (map[string]float64, error)
}

// ServeDataPlane serves the data plane on conn without go-plugin: regions
// (memfd and CUDA), frame descriptors, and one MsgResult ack per frame with
// the handler's fields. It returns nil when the host closes the socket. It
// is sdk.Serve's data plane without the go-plugin handshake, for benches.
func ServeDataPlane(conn *net.UnixConn, o *Opener, h Handler) error {
	buf := make([]byte, dataplane.MaxMessage)
	host := map[uint32]*shm.Mapping{}
	defer func() {
		for _, m := range host {
			_ = m.Close()
		}
	}()
	out := make([]byte, 0, 512)
	for {
		n, fds, err := shm.RecvFDs(conn, buf)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if n == 0 {
			continue
		}
		switch buf[0] {
		case dataplane.MsgRegion:
			r, err := dataplane.ParseRegion(buf[:n])
			if err != nil || len(fds) != 1 {
				closeAll(fds)
				return fmt.Errorf("bad region message (%d fds): %w", len(fds), err)
			}
			m, err := shm.MapRegion(fds[0], r.ID, r.Spec)
			closeAll(fds)
			if err != nil {
				return err
			}
			host[r.ID] = m
		case cuda.MsgRegion:
			if err := o.AddRegion(buf[:n], fds); err != nil {
				return err
			}
		case dataplane.MsgDropRegion:
			closeAll(fds)
			id, err := dataplane.ParseDropRegion(buf[:n])
			if err != nil {
				return err
			}
			if m := host[id]; m != nil {
				_ = m.Close()
				delete(host, id)
			}
			if err := o.DropRegion(id); err != nil {
				return err
			}
		case dataplane.MsgFrame:
			closeAll(fds)
			var d shm.Descriptor
			if err := dataplane.ParseFrame(buf[:n], &d); err != nil {
				return err
			}
			res := &pluginv1.Result{Handle: d.Stream, Seq: d.Seq, PtsNs: d.PTS, ReceivedNanos: shm.MonotonicNanos()}
			fields, err := runFrame(o, h, host, &d)
			res.DoneNanos = shm.MonotonicNanos()
			if err != nil {
				res.Error = &pluginv1.Error{Code: "plugin_error", Message: err.Error()}
			} else {
				res.Fields = fields
			}
			out = out[:dataplane.ResultHeaderSize]
			dataplane.PutResultHeader(out, dataplane.Ack{Region: d.Region, Slot: d.Slot, Generation: d.Generation, Handle: d.Stream})
			if out, err = (proto.MarshalOptions{}).MarshalAppend(out, res); err != nil {
				return err
			}
			if _, err := conn.Write(out); err != nil {
				return err
			}
		default:
			closeAll(fds)
			return fmt.Errorf("unknown data-plane message type %#x", buf[0])
		}
	}
}

func runFrame(o *Opener, h Handler, host map[uint32]*shm.Mapping, d *shm.Descriptor) (map[string]float64, error) {
	if d.Memory == shm.MemoryCUDA {
		f, err := o.Frame(d)
		if err != nil {
			return nil, err
		}
		fields, err := h.DeviceFrame(f)
		// Always wait: the ack lets the host reuse the buffer.
		if derr := f.Done(); err == nil {
			err = derr
		}
		return fields, err
	}
	m := host[d.Region]
	if m == nil {
		return nil, fmt.Errorf("region %d is not mapped", d.Region)
	}
	pix, err := m.Frame(d)
	if err != nil {
		return nil, err
	}
	fields, err := h.HostFrame(d, pix)
	if cerr := m.Check(d); err == nil {
		err = cerr
	}
	return fields, err
}

func closeAll(fds []int) {
	for _, fd := range fds {
		_ = os.NewFile(uintptr(fd), "").Close()
	}
}

// ServeRaw serves the data plane inherited at fd 3 (dataplane.FD) with a new
// Opener on device 0 until the host closes it; a plugin's main calls it when
// RawEnv is set.
func ServeRaw(h Handler) error {
	f := os.NewFile(dataplane.FD, "lsie-dataplane")
	conn, err := shm.FileConn(f)
	f.Close()
	if err != nil {
		return err
	}
	defer conn.Close()
	o, err := NewOpener(0)
	if err != nil {
		return err
	}
	defer o.Close()
	return ServeDataPlane(conn, o, h)
}
