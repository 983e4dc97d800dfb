// Command nv12plugin consumes video.nv12.cuda only: the host's CUDA tests
// use it to check what reaches a plugin of a stream with video.memory =
// "cuda". Built without -tags cuda, as the tests build it, its SDK answers
// each such frame with no_cuda, which still returns the slot to the host.
package main

import "github.com/lsie-mlf/lsie/sdk"

func main() { sdk.Serve(plugin{}) }

type plugin struct{}

func (plugin) Manifest() sdk.Manifest {
	return sdk.Manifest{
		Name:    "nv12plugin",
		Version: "0.1.0",
		Inputs:  []string{sdk.TopicVideoNV12CUDA},
		Outputs: []string{"nv12plugin.frame@1"},
		Fields:  []sdk.Field{{Name: "pitch", Unit: "bytes"}},
	}
}

func (plugin) OpenStream(sdk.StreamInfo) (sdk.Stream, error) { return stream{}, nil }

type stream struct{}

func (stream) ProcessDeviceFrame(f *sdk.Frame) (sdk.Fields, error) {
	return sdk.Fields{"pitch": float64(f.Stride)}, nil
}

func (stream) Close() error { return nil }
