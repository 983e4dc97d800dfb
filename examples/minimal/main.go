// Command minimal is the smallest useful lsie plugin: a template for plugin
// authors, and the transport-only plugin the handoff benchmark uses (its work
// per frame is negligible, so what is measured is the handoff).
//
// Build it with `go build -o bin/plugins/minimal ./examples/minimal` and name
// it in a stream: plugin "minimal" {}.
package main

import "github.com/lsie-mlf/lsie/sdk"

func main() { sdk.Serve(minimal{}) }

type minimal struct{}

// Manifest tells the host what this plugin consumes and produces.
func (minimal) Manifest() sdk.Manifest {
	return sdk.Manifest{
		Name:        "minimal",
		Version:     "0.1.0",
		Description: "example: the red value of each frame's centre pixel",
		Inputs:      []string{sdk.TopicVideoRGB24},
		Outputs:     []string{"minimal.frame@1"},
		Fields:      []sdk.Field{{Name: "centre_red", Unit: "0..255"}},
		// It takes no attributes: a plugin block that sets one is refused
		// (nil instead would pass anything through unchecked).
		Attributes: []sdk.Attribute{},
	}
}

// OpenStream is called once per stream; per-stream state lives in the value
// it returns, because one plugin process serves every stream.
func (minimal) OpenStream(sdk.StreamInfo) (sdk.Stream, error) { return stream{}, nil }

type stream struct{}

// ProcessFrame reads the frame in place: Pixels is the host's shared memory,
// read-only, valid until this method returns.
func (stream) ProcessFrame(f *sdk.Frame) (sdk.Fields, error) {
	if f.Format != sdk.FormatRGB24 {
		return nil, sdk.Errorf("bad_input", "want RGB24, got %s", f.Format)
	}
	i := (f.Height/2)*f.Stride + (f.Width/2)*3
	return sdk.Fields{"centre_red": float64(f.Pixels[i])}, nil
}

func (stream) Close() error { return nil }
