package plugin

import (
	"fmt"
	"regexp"
	"strconv"

	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
)

// ProtocolError is a plugin that speaks another plugin protocol version
// than this host.
type ProtocolError struct {
	Plugin int // the plugin's version
	Host   int // this host's
}

func (e *ProtocolError) Error() string {
	return fmt.Sprintf("speaks protocol %d; this host speaks protocol %d", e.Plugin, e.Host)
}

// goPluginVersion matches go-plugin's refusal of a handshake whose
// protocol version the host does not serve ("incompatible API version with
// plugin. Plugin version: 2, Client versions: [1]").
var goPluginVersion = regexp.MustCompile(`(?i)incompatible API version with plugin\. Plugin version: (\d+)`)

// handshakeError turns go-plugin's protocol-version refusal into a
// ProtocolError; other errors pass unchanged.
func handshakeError(err error) error {
	if m := goPluginVersion.FindStringSubmatch(err.Error()); m != nil {
		if v, convErr := strconv.Atoi(m[1]); convErr == nil {
			return &ProtocolError{Plugin: v, Host: pluginv1.ProtocolVersion}
		}
	}
	return err
}

// VersionMismatchError is a plugin whose manifest reports another version
// than its file name (or plugins.lock) says.
type VersionMismatchError struct {
	Expected string // what the host resolved the binary as
	From     string // where Expected came from: Binary.VersionFrom
	Manifest string
}

func (e *VersionMismatchError) Error() string {
	return fmt.Sprintf("its manifest says version %q but %s says %q", e.Manifest, e.From, e.Expected)
}

// checkManifest checks what a started plugin described against what the
// host expects of bin: the protocol version, and the version bin was
// resolved as, if any.
func checkManifest(bin Binary, m *pluginv1.Manifest) error {
	if m.GetProtocolVersion() != pluginv1.ProtocolVersion {
		return &ProtocolError{Plugin: int(m.GetProtocolVersion()), Host: pluginv1.ProtocolVersion}
	}
	if bin.Version != "" && m.GetVersion() != bin.Version {
		from := bin.VersionFrom
		if from == "" {
			from = "the host"
		}
		return &VersionMismatchError{Expected: bin.Version, From: from, Manifest: m.GetVersion()}
	}
	return nil
}
