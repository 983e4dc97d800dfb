package server

import (
	"fmt"
	"strings"
	"testing"

	"github.com/lsie-mlf/lsie/sdk/proto/dataplane"
	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
)

// A result too large for one packet is answered with result_too_large, so
// the host still settles the input (its lease, its audio progress).
func TestOversizedResultIsAnswered(t *testing.T) {
	s, host, logs := newTestService(t, &recordingProc{frames: make(chan *Frame, 1)})
	fields := map[string]float64{}
	for i := range 5000 {
		fields[fmt.Sprintf("field_%05d", i)] = float64(i)
	}
	ack := dataplane.Ack{Region: 7, Slot: 1, Generation: 4, Handle: 1}
	s.send(ack, &pluginv1.Result{Handle: 1, Seq: 9, Input: pluginv1.Input_INPUT_AUDIO, ProgressNs: 5e9, Fields: fields})
	got, res := readResult(t, host)
	if got != ack || res.GetSeq() != 9 || res.GetInput() != pluginv1.Input_INPUT_AUDIO || res.GetProgressNs() != 5e9 ||
		res.GetError().GetCode() != CodeResultTooLarge || len(res.GetFields()) != 0 {
		t.Fatalf("ack %+v result %v", got, res)
	}
	if !strings.Contains(logs.String(), "result too large") {
		t.Errorf("not logged:\n%s", logs.String())
	}
}
