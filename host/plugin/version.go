package plugin

import (
	"regexp"
	"strconv"

	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
	"github.com/lsie-mlf/lsie/sdk/validate"
)

// ProtocolError is a plugin that speaks another plugin protocol version
// than this host.
type ProtocolError = validate.ProtocolError

// VersionMismatchError is a plugin whose manifest reports another version
// than its file name (or plugins.lock) says.
type VersionMismatchError = validate.VersionMismatchError

// NameMismatchError is a plugin whose manifest names another plugin than
// its file.
type NameMismatchError = validate.NameMismatchError

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

// checkManifest checks what a started plugin described by the SDK's rules
// (validate.Manifest, which sdk/plugintest applies too) against what the
// host knows of bin: its file's plugin name and the version it was
// resolved as, if any.
func checkManifest(bin Binary, m *pluginv1.Manifest) error {
	return validate.Manifest(m, validate.File{Name: bin.Name, Version: bin.Version, VersionFrom: bin.VersionFrom})
}
