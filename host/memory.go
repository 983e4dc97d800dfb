package host

import (
	"fmt"

	"github.com/lsie-mlf/lsie/host/api"
	"github.com/lsie-mlf/lsie/host/config"
	"github.com/lsie-mlf/lsie/shm/cuda"
)

// checkMemory refuses a stream whose frames should live in CUDA memory
// when this build or this machine cannot provide it, saying which: a
// default build has no CUDA at all; a cuda build reports what its probe of
// the device found.
func (h *Host) checkMemory(st config.Stream) error {
	if st.Video.Memory != config.MemoryCUDA {
		return nil
	}
	d := h.devices()
	if d == nil {
		return fmt.Errorf("stream %q: video.memory = \"cuda\": %w: %w", st.ID, api.ErrUnrunnable, cuda.Available())
	}
	if err := d.Probe(st.Video.GPU); err != nil {
		return fmt.Errorf("stream %q: video.memory = \"cuda\", gpu = %d: %w: %w", st.ID, st.Video.GPU, api.ErrUnrunnable, err)
	}
	return nil
}
