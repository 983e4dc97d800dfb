package capture

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/lsie-mlf/lsie/internal/testenv"
)

// TestGPUUsableAgreesWithRegistry: GPUUsable says the GPU branch can run
// exactly when gst-inspect-1.0 finds nvcodec's elements, and names the
// missing one otherwise (here: nvcodec registers nothing without a driver).
func TestGPUUsableAgreesWithRegistry(t *testing.T) {
	if _, err := exec.LookPath("gst-inspect-1.0"); err != nil {
		testenv.Missing(t, "gst-inspect-1.0 not installed")
	}
	var missing string
	for _, name := range gpuElements {
		if exec.Command("gst-inspect-1.0", name).Run() != nil {
			missing = name
			break
		}
	}
	err := GPUUsable()
	switch {
	case missing == "" && err != nil:
		t.Errorf("gst-inspect-1.0 finds %v, GPUUsable: %v", gpuElements, err)
	case missing != "" && (err == nil || !strings.Contains(err.Error(), `element "`+missing+`" is not registered`)):
		t.Errorf("gst-inspect-1.0 lacks %s, GPUUsable: %v", missing, err)
	}
}
