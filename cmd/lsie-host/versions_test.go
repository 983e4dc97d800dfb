package main

// Plugin versions, plugins.lock and the protocol check through the built
// host: testdata/versionplugin is built once per version (-ldflags -X), so
// each binary reports the version its file name claims.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/lsie-mlf/lsie/host/store/sqlite"
	"github.com/lsie-mlf/lsie/internal/proctest"
)

var (
	vbuildMu sync.Mutex
	vbuilds  = map[string]string{}
)

// versionPluginBin builds testdata/versionplugin with main.VAR=VALUE
// settings once per test binary, under binDir (removed by TestMain).
func versionPluginBin(t *testing.T, sets ...string) string {
	t.Helper()
	vbuildMu.Lock()
	defer vbuildMu.Unlock()
	key := strings.Join(sets, " ")
	if p, ok := vbuilds[key]; ok {
		return p
	}
	var flags []string
	for _, s := range sets {
		flags = append(flags, "-X main."+s)
	}
	out := filepath.Join(binDir, fmt.Sprintf("versionplugin-%d", len(vbuilds)))
	if b, err := exec.Command("go", "build", "-ldflags", strings.Join(flags, " "), "-o", out, "./testdata/versionplugin").CombinedOutput(); err != nil {
		t.Fatalf("building versionplugin %s: %v\n%s", key, err, b)
	}
	vbuilds[key] = out
	return out
}

func copyExec(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

// versionedPlugins makes a plugins directory with versioned@V, built as V,
// for each version.
func versionedPlugins(t *testing.T, versions ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "plugins")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, v := range versions {
		copyExec(t, versionPluginBin(t, "version="+v), filepath.Join(dir, "versioned@"+v))
	}
	return dir
}

// Streams pick versions with constraints; the newest version every stream
// using the plugin allows runs, and the stored results say which.
func TestPluginVersionsThroughHost(t *testing.T) {
	plugins := versionedPlugins(t, "1.2.0", "1.2.7", "1.3.0", "2.0.0")
	dir := t.TempDir()
	white := clip(t, dir, "white", "pattern=white")
	db := filepath.Join(dir, "lsie.db")
	run := func(t *testing.T, va, vb string) (string, int) {
		cfg := writeConfig(t, t.TempDir(), fmt.Sprintf(`segment { duration = "1s" }
store { sqlite = %q }
api { listen = "" }
stream "a" {
  source   = "file://%s"
  realtime = false
  plugin "versioned" { %s }
}
stream "b" {
  source   = "file://%s"
  realtime = false
  plugin "versioned" { %s }
}
`, db, white, va, white, vb))
		return runHost(t, "--plugins", plugins, "--config", cfg, "--exit-when-done", "--quiet", "--log-level", "error")
	}

	out, code := run(t, `version = "~> 1.2"`, "")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	store, err := sqlite.Open(db, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for _, id := range []string{"a", "b"} {
		segs, err := store.Segments(context.Background(), id, 0, 0)
		if err != nil || len(segs) != 3 {
			t.Fatalf("stream %s: %d segments, %v", id, len(segs), err)
		}
		for _, s := range segs {
			p := s.Plugins["versioned"]
			if p.Version != "1.3.0" || p.FramesAnalysed != 5 || p.Aggregates["minor"].Mean != 3 || p.Aggregates["major"].Mean != 1 {
				t.Errorf("stream %s segment %d: %+v", id, s.Index, p)
			}
		}
		runs, err := store.PluginRuns(context.Background(), id)
		if err != nil || len(runs) != 1 || runs[0].Path != filepath.Join(plugins, "versioned@1.3.0") || len(runs[0].SHA256) != 64 || runs[0].Version != "1.3.0" {
			t.Errorf("stream %s plugin runs: %+v %v", id, runs, err)
		}
	}

	// A pin on a patch series; the other stream takes what it is given.
	out, code = run(t, `version = "~> 1.2.0"`, `version = ">= 1.0, != 1.3.0"`)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	segs, err := store.Segments(context.Background(), "b", 0, 0)
	if err != nil || len(segs) == 0 || segs[len(segs)-1].Plugins["versioned"].Version != "1.2.7" {
		t.Fatalf("b with ~> 1.2.0 beside it: %+v %v", segs, err)
	}

	// Constraints no version satisfies together: both streams are named.
	out, code = run(t, `version = "~> 1.3"`, `version = "< 1.3"`)
	for _, want := range []string{`no plugin version matches: plugin "versioned"`,
		`"~> 1.3" for stream "a" (`, `lsie.hcl:7:3)`, `"< 1.3" for stream "b" (`, `lsie.hcl:12:3)`,
		"2.0.0 (versioned@2.0.0), 1.3.0 (versioned@1.3.0), 1.2.7 (versioned@1.2.7), 1.2.0 (versioned@1.2.0)"} {
		if code == 0 || !strings.Contains(out, want) {
			t.Errorf("conflicting constraints: exit %d, output lacks %q:\n%s", code, want, out)
		}
	}
	// None at all.
	out, code = run(t, `version = "~> 3.0"`, "")
	if code == 0 || !strings.Contains(out, `wants "~> 3.0" for stream "a"`) || !strings.Contains(out, "available in "+plugins+": 2.0.0") {
		t.Errorf("no match: exit %d:\n%s", code, out)
	}
	// A bad constraint is a config error, at its position.
	out, code = run(t, `version = "~> 1.x"`, "")
	if code == 0 || !regexp.MustCompile(`lsie\.hcl:7:\d+: stream "a": plugin "versioned": version: "~> 1.x" is not a version constraint: column 6`).MatchString(out) {
		t.Errorf("bad constraint: exit %d:\n%s", code, out)
	}
}

// A file whose name says another version than its manifest, and a plugin
// of another protocol version, are refused naming both versions.
func TestPluginVersionAndProtocolMismatchRefused(t *testing.T) {
	plugins := versionedPlugins(t)
	copyExec(t, versionPluginBin(t, "version=1.2.0"), filepath.Join(plugins, "versioned@1.3.0"))
	copyExec(t, versionPluginBin(t, "protocol=2", "name=future"), filepath.Join(plugins, "future"))
	for _, tc := range []struct{ plugin, want string }{
		{"versioned", fmt.Sprintf(`plugin "versioned" (%s): its manifest says version "1.2.0" but its file name says "1.3.0"`, filepath.Join(plugins, "versioned@1.3.0"))},
		{"future", fmt.Sprintf(`plugin "future" (%s): speaks protocol 2; this host speaks protocol 1`, filepath.Join(plugins, "future"))},
	} {
		cfg := writeConfig(t, t.TempDir(), fmt.Sprintf("api { listen = \"\" }\nstream \"a\" {\n  source = \"test://ball\"\n  plugin %q {}\n}\n", tc.plugin))
		out, code := runHost(t, "--plugins", plugins, "--config", cfg, "--log-level", "error")
		if code == 0 || !strings.Contains(out, tc.want) {
			t.Errorf("%s: exit %d, want %q:\n%s", tc.plugin, code, tc.want, out)
		}
		out, code = runHost(t, "plugins", "inspect", "--plugins", plugins, "--log-level", "off", tc.plugin)
		if code == 0 || !strings.Contains(out, tc.want) || !regexp.MustCompile(`status:\s+failed: `).MatchString(out) {
			t.Errorf("inspect %s: exit %d, want %q:\n%s", tc.plugin, code, tc.want, out)
		}
	}
	out, code := runHost(t, "plugins", "ls", "--plugins", plugins, "--log-level", "off")
	for _, want := range []string{
		`(?m)^future\s+-\s+2\s+.*\s+future\s+failed: speaks protocol 2; this host speaks protocol 1$`,
		`(?m)^versioned\s+1\.2\.0\s+.*\s+versioned@1\.3\.0\s+failed: its manifest says version "1\.2\.0" but its file name says "1\.3\.0"$`,
	} {
		if code != 0 || !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("plugins ls: exit %d, lacks %s:\n%s", code, want, out)
		}
	}
}

// plugins lock pins the newest version of each plugin; the host then runs
// verified private copies, refuses tampered bytes and unlocked plugins.
func TestPluginsLockThroughHost(t *testing.T) {
	plugins := versionedPlugins(t, "1.2.0", "1.3.0")
	copyExec(t, filepath.Join(pluginDir(), "visual"), filepath.Join(plugins, "visual"))
	out, code := runHost(t, "plugins", "lock", "--plugins", plugins, "--log-level", "off")
	if code != 0 {
		t.Fatalf("plugins lock: exit %d\n%s", code, out)
	}
	lockFile := filepath.Join(plugins, "plugins.lock")
	lock, err := os.ReadFile(lockFile)
	if err != nil {
		t.Fatal(err)
	}
	entries := regexp.MustCompile(`(?m)^(\S+) (\S+) ([0-9a-f]{64})$`).FindAllStringSubmatch(string(lock), -1)
	if len(entries) != 2 || entries[0][1] != "versioned" || entries[0][2] != "1.3.0" || entries[1][1] != "visual" || entries[1][2] != "0.1.0" {
		t.Fatalf("plugins.lock:\n%s\noutput:\n%s", lock, out)
	}

	out, code = runHost(t, "plugins", "ls", "--plugins", plugins, "--log-level", "off")
	for _, want := range []string{
		`(?m)^NAME\s+VERSION\s+PROTOCOL\s+INPUTS\s+OUTPUTS\s+SHA256\s+LOCK\s+FILE\s+STATUS$`,
		`(?m)^versioned\s+1\.3\.0\s+1\s+video\.rgb24\s+versioned\.frame@1\s+` + entries[0][3][:12] + `\s+ok\s+versioned@1\.3\.0\s+ok$`,
		`(?m)^versioned\s+1\.2\.0\s+1\s+.*\s+unlocked\s+versioned@1\.2\.0\s+ok$`,
		`(?m)^visual\s+0\.1\.0\s+1\s+.*\s+ok\s+visual\s+ok$`,
		"lock: " + regexp.QuoteMeta(lockFile) + ` \(2 entries\)`,
	} {
		if code != 0 || !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("plugins ls: exit %d, lacks %s:\n%s", code, want, out)
		}
	}

	dir := t.TempDir()
	head := fmt.Sprintf("segment { duration = \"1s\" }\nstore { sqlite = %q }\napi { listen = \"127.0.0.1:0\" }\n", filepath.Join(dir, "lsie.db"))
	cfg := writeConfig(t, dir, head+`stream "a" {
  source = "test://ball?width=320&height=240&fps=30"
  plugin "versioned" {}
  plugin "visual" {}
}
`)
	h := startHost(t, cfg, "--plugins", plugins)
	kids := proctest.Children(h.cmd.Process.Pid)
	exes := map[string]string{}
	for _, pid := range kids {
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if base := filepath.Base(exe); err == nil && (base == "visual" || strings.HasPrefix(base, "versioned")) {
			exes[base] = exe // (GStreamer may have a registry scanner child too)
		}
	}
	privDir := filepath.Dir(exes["versioned@1.3.0"])
	if len(exes) != 2 || exes["visual"] == "" || filepath.Dir(exes["visual"]) != privDir || privDir == plugins || !strings.Contains(privDir, "lsie-plugins-") {
		t.Fatalf("plugin processes run %v, want both from one private directory", exes)
	}
	if info, err := os.Stat(privDir); err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("private directory %s: %v %v", privDir, info.Mode(), err)
	}
	h.waitSegments(t, "a", 1)
	h.stop(t)
	if _, err := os.Stat(privDir); !os.IsNotExist(err) {
		t.Errorf("private directory %s outlives the host: %v", privDir, err)
	}

	// Tamper one byte: refused, naming the expected and the actual sha256.
	bin := filepath.Join(plugins, "versioned@1.3.0")
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/3] ^= 0x01
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	out, code = runHost(t, "--plugins", plugins, "--config", cfg, "--log-level", "error")
	if code == 0 || !strings.Contains(out, `plugin "versioned" 1.3.0 (`+bin+`): sha256 `) || !strings.Contains(out, "which expects "+entries[0][3]) {
		t.Errorf("tampered binary: exit %d:\n%s", code, out)
	}
	out, _ = runHost(t, "plugins", "ls", "--plugins", plugins, "--log-level", "off")
	if !regexp.MustCompile(`(?m)^versioned\s+1\.3\.0\s+-\s+.*\s+mismatch\s+versioned@1\.3\.0\s+failed: not started: its sha256 `).MatchString(out) {
		t.Errorf("plugins ls of a tampered binary:\n%s", out)
	}
	copyExec(t, versionPluginBin(t, "version=1.3.0"), bin)

	// A lock without the plugin's entry (given by --lock, then by env).
	other := filepath.Join(t.TempDir(), "other.lock")
	if err := os.WriteFile(other, []byte(entries[1][0]+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code = runHost(t, "--plugins", plugins, "--lock", other, "--config", cfg, "--log-level", "error")
	if code == 0 || !strings.Contains(out, `plugin "versioned" has no entry in `+other) {
		t.Errorf("missing lock entry: exit %d:\n%s", code, out)
	}
	cmd := exec.Command(hostBin(), "--plugins", plugins, "--config", cfg, "--log-level", "error")
	cmd.Env = append(os.Environ(), "LSIE_PLUGINS_LOCK="+other)
	if b, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(b), "has no entry in "+other) {
		t.Errorf("LSIE_PLUGINS_LOCK: %v:\n%s", err, b)
	}
}

// A stream added at run time reuses the running plugin only if its
// constraint allows the running version.
func TestAddedStreamVersionMustMatchRunningPlugin(t *testing.T) {
	plugins := versionedPlugins(t, "1.2.0", "1.3.0")
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fmt.Sprintf(`segment { duration = "1s" }
store { sqlite = %q }
api { listen = "127.0.0.1:0" }
stream "a" {
  source = "test://ball?width=320&height=240&fps=30"
  plugin "versioned" { version = "~> 1.3" }
}
`, filepath.Join(dir, "lsie.db")))
	h := startHost(t, cfg, "--plugins", plugins)
	post := func(version string) (int, string) {
		body, _ := json.Marshal(map[string]any{"id": "b", "source": "test://snow?width=320&height=240&fps=30",
			"plugins": []map[string]any{{"name": "versioned", "version": version}}})
		resp, err := http.Post(h.base+"/api/v1/streams", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := post("< 1.3")
	var refusal struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	_ = json.Unmarshal([]byte(body), &refusal)
	msg := refusal.Error.Message
	if code != http.StatusUnprocessableEntity || !strings.Contains(msg, `plugin "versioned" runs version 1.3.0 (versioned@1.3.0), for "~> 1.3" for stream "a" (`) ||
		!strings.Contains(msg, `it does not match "< 1.3" for stream "b"`) {
		t.Fatalf("a stream refusing the running version: %d %s; want 422 naming both constraints", code, body)
	}
	if code, body := post("~> 1.2"); code != http.StatusCreated {
		t.Fatalf("a stream allowing the running version: %d %s", code, body)
	}
	h.waitSegments(t, "b", 1)
	h.stop(t)
}

// plugins ls refuses exactly the manifests a run refuses, with the same
// message (both apply the SDK's validate.Manifest), and so does config
// check --plugins: a file whose manifest names another plugin, a version
// with a leading v, an output topic that is not a topic.
func TestPluginsLsRefusesWhatARunRefuses(t *testing.T) {
	plugins := versionedPlugins(t, "1.2.0")
	cases := []struct{ file, sets, want string }{
		{"edgy", "name=faulty", `its manifest names plugin "faulty" but its file name says "edgy"`},
		{"vee", "name=vee version=v1.0", `manifest version "v1.0": drop the leading v (want MAJOR.MINOR.PATCH like 1.2.3)`},
		{"Upper", "name=Upper", `manifest output: topic "Upper.frame@1": name part 1 "Upper": character 'U' at 1: use [a-z][a-z0-9_]*`},
	}
	for _, tc := range cases {
		copyExec(t, versionPluginBin(t, strings.Fields(tc.sets)...), filepath.Join(plugins, tc.file))
	}
	out, code := runHost(t, "plugins", "ls", "--plugins", plugins, "--log-level", "off")
	if code != 0 || !regexp.MustCompile(`(?m)^versioned\s+1\.2\.0\s+1\s+.*\s+versioned@1\.2\.0\s+ok$`).MatchString(out) {
		t.Fatalf("plugins ls: exit %d:\n%s", code, out)
	}
	ls := out
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			cfg := writeConfig(t, t.TempDir(), fmt.Sprintf("api { listen = \"\" }\nstream \"a\" {\n  source = \"test://ball\"\n  plugin %q {}\n}\n", tc.file))
			out, code := runHost(t, "--plugins", plugins, "--config", cfg, "--log-level", "error")
			m := regexp.MustCompile(`plugin "` + tc.file + `" \(` + regexp.QuoteMeta(filepath.Join(plugins, tc.file)) + `\): (.*)`).FindStringSubmatch(out)
			if code == 0 || m == nil || m[1] != tc.want {
				t.Fatalf("run: exit %d, want %q:\n%s", code, tc.want, out)
			}
			if !regexp.MustCompile(`(?m)^` + tc.file + `\s+.*\s+` + tc.file + `\s+failed: ` + regexp.QuoteMeta(m[1]) + `$`).MatchString(ls) {
				t.Errorf("plugins ls does not refuse it with the run's message %q:\n%s", m[1], ls)
			}
			out, code = runHost(t, "--log-level", "off", "config", "check", "--plugins", plugins, cfg)
			if code == 0 || !strings.Contains(out, m[1]) {
				t.Errorf("config check --plugins: exit %d, want %q:\n%s", code, m[1], out)
			}
		})
	}
}
