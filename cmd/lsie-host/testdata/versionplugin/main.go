// Command versionplugin is a test plugin whose version and protocol are set
// at build time, to test version resolution and protocol refusal:
//
//	go build -ldflags "-X main.version=1.3.0" ./testdata/versionplugin
//	go build -ldflags "-X main.protocol=2" ...         // a plugin of a future SDK: go-plugin handshake at protocol 2
//	go build -ldflags "-X main.protocol=describe2" ... // handshake at 1, manifest says protocol 2
//
// Each frame's result carries its version as fields, so a test can tell
// which binary analysed it.
package main

import (
	"context"
	"strconv"
	"strings"

	goplugin "github.com/hashicorp/go-plugin"
	"github.com/lsie-mlf/lsie/sdk"
	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
)

var (
	name     = "versioned"
	version  = "1.0.0"
	protocol = "1"
)

func main() {
	switch protocol {
	case "2":
		hs := pluginv1.Handshake
		hs.ProtocolVersion = 2
		serveRaw(hs, 2)
	case "describe2":
		serveRaw(pluginv1.Handshake, 1)
	default:
		sdk.Serve(plugin{})
	}
}

// serveRaw serves the control service directly over go-plugin, as a
// plugin built against another SDK would, describing protocol 2.
func serveRaw(hs goplugin.HandshakeConfig, setVersion int) {
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: hs,
		VersionedPlugins: map[int]goplugin.PluginSet{
			setVersion: {pluginv1.PluginName: &pluginv1.GRPCPlugin{Impl: future{}}},
		},
		GRPCServer: goplugin.DefaultGRPCServer,
	})
}

type future struct {
	pluginv1.UnimplementedPluginServer
}

func (future) Describe(context.Context, *pluginv1.DescribeRequest) (*pluginv1.Manifest, error) {
	return &pluginv1.Manifest{Name: name, Version: version, ProtocolVersion: 2, Inputs: []string{sdk.TopicVideoRGB24}}, nil
}

func (future) Health(context.Context, *pluginv1.HealthRequest) (*pluginv1.HealthResponse, error) {
	return &pluginv1.HealthResponse{Status: "ok"}, nil
}

type plugin struct{}

func (plugin) Manifest() sdk.Manifest {
	return sdk.Manifest{Name: name, Version: version, Description: "test plugin of a version set at build time",
		Inputs: []string{sdk.TopicVideoRGB24}, Outputs: []string{name + ".frame@1"},
		Fields: []sdk.Field{{Name: "major", Unit: "number"}, {Name: "minor", Unit: "number"}, {Name: "patch", Unit: "number"}}}
}

func (plugin) OpenStream(sdk.StreamInfo) (sdk.Stream, error) { return stream{}, nil }

type stream struct{}

func (stream) ProcessFrame(*sdk.Frame) (sdk.Fields, error) {
	core, _, _ := strings.Cut(version, "-")
	f := sdk.Fields{}
	for i, k := range []string{"major", "minor", "patch"} {
		parts := strings.Split(core, ".")
		if i < len(parts) {
			n, _ := strconv.Atoi(parts[i])
			f[k] = float64(n)
		}
	}
	return f, nil
}

func (stream) Close() error { return nil }
