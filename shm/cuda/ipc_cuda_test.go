//go:build cuda

package cuda

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"testing"
	"unsafe"

	"github.com/lsie-mlf/lsie/shm"
	"gorgonia.org/cu"
)

func formatMean(m float64) string { return "mean=" + strconv.FormatFloat(m, 'g', -1, 64) }

// TestIPCHelper is the child of TestIPCRoundTripInChild; it does nothing
// unless started by it.
func TestIPCHelper(t *testing.T) {
	file := os.Getenv(ipcEnv)
	if file == "" {
		return
	}
	mean, err := ipcChild(file)
	if err != nil {
		fmt.Println("helper:", err)
		os.Exit(3)
	}
	fmt.Println(formatMean(mean))
	os.Exit(0)
}

func ipcChild(file string) (float64, error) {
	msg, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	info, err := ParseRegion(msg)
	if err != nil {
		return 0, err
	}
	b, err := io.ReadAll(os.Stdin)
	if err != nil {
		return 0, err
	}
	var d shm.Descriptor
	if err := d.Parse(b); err != nil {
		return 0, err
	}
	if err := info.Check(&d); err != nil {
		return 0, err
	}
	m, err := shm.MapRegion(3, info.ID, HeaderSpec(info.Slots()))
	if err != nil {
		return 0, err
	}
	defer m.Close()
	h := HeaderDescriptor(&d)
	if _, err := m.Frame(&h); err != nil {
		return 0, fmt.Errorf("header seqlock: %w", err)
	}
	dev, err := OpenDevice(int(d.Device))
	if err != nil {
		return 0, err
	}
	defer dev.Close()
	plane := make([]byte, int(info.Pitch)*int(info.Height))
	err = dev.Do(func() error {
		ptr, err := OpenMem(info.Mem[d.Slot])
		if err != nil {
			return err
		}
		defer CloseMem(ptr)
		ev, err := OpenEvent(info.Events[d.Slot])
		if err != nil {
			return err
		}
		defer cu.DestroyEvent(&ev)
		st, err := cu.MakeStream(cu.NonBlocking)
		if err != nil {
			return err
		}
		defer st.Destroy()
		if err := st.Wait(ev, 0); err != nil {
			return err
		}
		if err := cu.MemcpyDtoHAsync(unsafe.Pointer(&plane[0]), ptr, int64(len(plane)), st); err != nil {
			return err
		}
		return st.Synchronize()
	})
	if err != nil {
		return 0, err
	}
	if err := m.Check(&h); err != nil {
		return 0, err
	}
	return MeanLuma(plane, int(info.Pitch), int(info.Width), int(info.Height)), nil
}
