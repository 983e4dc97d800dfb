// Command tensorplugin consumes video.rgbf32.cuda: the host's CUDA tests use
// it to check that each distinct declared model input is made once per
// frame. Its role is its file name: the digits in it are the square input
// size it declares ("tensor64a" → 64x64, normalised with ImageNet's mean and
// std); a name without digits declares no device_input at all.
package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/lsie-mlf/lsie/sdk"
	// Opens CUDA frames in a -tags cuda build (sdk.DeviceStream needs it).
	_ "github.com/lsie-mlf/lsie/sdk/cudaframe"
)

func main() {
	name := filepath.Base(os.Args[0])
	digits := strings.TrimFunc(name, func(r rune) bool { return r < '0' || r > '9' })
	var in *sdk.DeviceInput
	if n, err := strconv.Atoi(digits); err == nil {
		in = &sdk.DeviceInput{Width: n, Height: n, Mean: [3]float32{0.485, 0.456, 0.406}, Std: [3]float32{0.229, 0.224, 0.225}}
	}
	sdk.Serve(plugin{name: name, in: in})
}

type plugin struct {
	name string
	in   *sdk.DeviceInput
}

func (p plugin) Manifest() sdk.Manifest {
	return sdk.Manifest{
		Name:        p.name,
		Version:     "0.1.0",
		Inputs:      []string{sdk.TopicVideoRGBF32CUDA},
		Outputs:     []string{p.name + ".frame@1"},
		DeviceInput: p.in,
	}
}

func (plugin) OpenStream(sdk.StreamInfo) (sdk.Stream, error) { return stream{}, nil }

type stream struct{}

func (stream) ProcessDeviceFrame(f *sdk.Frame) (sdk.Fields, error) {
	return sdk.Fields{"width": float64(f.Width)}, nil
}

func (stream) Close() error { return nil }
