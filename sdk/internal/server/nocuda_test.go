package server

import (
	"strings"
	"testing"

	"github.com/lsie-mlf/lsie/sdk/proto/dataplane"
	"golang.org/x/sys/unix"
)

// A plugin without sdk/cudaframe (or built without the cuda tag) answers CUDA regions with a log line
// and CUDA frames with a per-frame error result (so the host gets its slot
// back), never a crash or a hang.
func TestCUDAWithoutCUDABuild(t *testing.T) {
	if newCUDA != nil {
		t.Fatal("a CUDA implementation registered without sdk/cudaframe")
	}
	proc := &recordingProc{frames: make(chan *Frame, 1)}
	s, host, logs := newTestService(t, proc)
	if s.cuda != nil {
		t.Fatal("service has CUDA support without sdk/cudaframe")
	}

	// Without an implementation the region's content is never parsed:
	// only its type byte and descriptors matter.
	region := make([]byte, 24)
	region[0] = dataplane.MsgCUDARegion
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[1])
	s.dispatch(region, []int{p[0]})
	if fdOpen(p[0]) {
		t.Fatal("header region fd left open")
	}
	if !strings.Contains(logs.String(), "plugin built without CUDA") {
		t.Fatalf("log does not say why the region was refused:\n%s", logs)
	}

	for seq := range uint64(3) {
		d := cudaDescriptor()
		d.Seq = seq
		sendFrame(s, d)
		ack, res := readResult(t, host)
		if ack != (dataplane.Ack{Region: 7, Slot: 1, Generation: 4, Handle: 1}) || res.Seq != seq {
			t.Fatalf("ack %+v seq %d", ack, res.Seq)
		}
		if res.GetError().GetCode() != "no_cuda" || !strings.Contains(res.GetError().GetMessage(), "plugin built without CUDA") {
			t.Fatalf("result error %v, want no_cuda / plugin built without CUDA", res.GetError())
		}
	}
	if len(proc.frames) != 0 {
		t.Fatal("processor ran on a CUDA frame without CUDA")
	}
}
