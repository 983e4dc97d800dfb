package pluginv1

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// ProtocolVersion is the plugin protocol version this package speaks.
const ProtocolVersion = 1

// PluginName is the key of the single plugin every lsie binary serves.
const PluginName = "lsie"

// Handshake is shared by host and plugins. The cookie only keeps a user from
// running a plugin binary by hand by mistake; it is not a security measure.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "LSIE_PLUGIN",
	MagicCookieValue: "a1f0c6f2-live-stream-inference",
}

// GRPCPlugin adapts the generated service to go-plugin on both sides.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	// Impl is set on the plugin side only.
	Impl PluginServer
}

// GRPCServer registers the implementation (plugin side).
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	RegisterPluginServer(s, p.Impl)
	return nil
}

// GRPCClient returns the typed client (host side).
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return NewPluginClient(c), nil
}

// PluginSets maps protocol versions to what each serves, for VersionedPlugins.
func PluginSets(impl PluginServer) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		ProtocolVersion: {PluginName: &GRPCPlugin{Impl: impl}},
	}
}
