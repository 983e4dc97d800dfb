package host

import (
	"fmt"

	"github.com/lsie-mlf/lsie/host/api"
	"github.com/lsie-mlf/lsie/host/config"
	"github.com/lsie-mlf/lsie/shm/cuda"
)

// checkMemory refuses a stream whose frames should live in CUDA memory
// when this build or this machine cannot provide it, saying which: a
// default build has no CUDA at all; a cuda build reports the driver's
// error. Capture does not upload into the device pool yet (issue #8 in
// progress), so even a working driver is refused, plainly.
func checkMemory(st config.Stream) error {
	if st.Video.Memory != config.MemoryCUDA {
		return nil
	}
	if err := cuda.Available(); err != nil {
		return fmt.Errorf("stream %q: video.memory = \"cuda\": %w: %w", st.ID, api.ErrUnrunnable, err)
	}
	return fmt.Errorf("stream %q: video.memory = \"cuda\": %w: capture does not fill the CUDA pool yet; use memory = \"host\" (docs/CUDA.md)",
		st.ID, api.ErrUnrunnable)
}
