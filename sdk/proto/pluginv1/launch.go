package pluginv1

import (
	"os"
	"os/exec"
	"strings"
	"syscall"

	"github.com/hashicorp/go-plugin"
)

// EnvAllowlist is what a plugin inherits from its host's environment, plus
// every LSIE_PLUGIN_* variable: never the host's secrets (API tokens,
// database passwords).
var EnvAllowlist = []string{"PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "TZ", "LD_LIBRARY_PATH"}

// Env returns the environment a plugin process gets.
func Env() []string {
	var env []string
	for _, k := range EnvAllowlist {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "LSIE_PLUGIN_") {
			env = append(env, kv)
		}
	}
	return env
}

// Command prepares a plugin process the way every lsie host launches one:
// the data-plane socket's child end at fd 3, the allowlisted environment,
// and its own process group, so a failed or stopped plugin is killed with
// all its children (which would otherwise hold go-plugin's output pipes
// open). Pdeathsig is only a backup for the data-plane EOF: in Go it is tied
// to the OS thread that started the child (golang/go#27505).
func Command(path string, dataPlane *os.File) *exec.Cmd {
	cmd := exec.Command(path)
	cmd.ExtraFiles = []*os.File{dataPlane}
	cmd.Env = Env()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	return cmd
}

// ClientConfig is the go-plugin client configuration for a Command. The
// gRPC connection uses go-plugin's AutoMTLS: the host makes a one-time
// client certificate per start and passes it in PLUGIN_CLIENT_CERT; the
// plugin answers with its own in the handshake, and each side accepts only
// the other's, so no other local process can talk to the plugin's socket.
func ClientConfig(cmd *exec.Cmd) *plugin.ClientConfig {
	return &plugin.ClientConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: PluginSets(nil),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		SkipHostEnv:      true,
		AutoMTLS:         true,
	}
}

// KillGroup kills a Command's whole process group, if it started.
func KillGroup(cmd *exec.Cmd) {
	if cmd.Process != nil && cmd.Process.Pid > 0 {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
