package host

import (
	"fmt"

	"github.com/lsie-mlf/lsie/host/api"
	"github.com/lsie-mlf/lsie/host/config"
)

// checkMemory refuses a stream whose frames should live in CUDA memory
// when this build or this machine cannot provide it, saying which: a
// default build has no CUDA at all; a cuda build reports what its probe of
// the device found.
func (h *Host) checkMemory(st config.Stream) error {
	if st.Video.Memory != config.MemoryCUDA {
		return nil
	}
	if err := h.cudaUnavailable(); err != nil {
		return fmt.Errorf("stream %q: video.memory = \"cuda\": %w: %w", st.ID, api.ErrUnrunnable, err)
	}
	return nil
}
