package main

// config check --plugins DIR: every stream of the config resolved, started
// and opened on its plugins as the host would, every problem at its plugin
// block.

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/lsie-mlf/lsie/internal/testenv"
)

func TestConfigCheckPlugins(t *testing.T) {
	const good = "stream \"good\" {\n  source = \"test://smpte\"\n  plugin \"iso\" {}\n}\n"
	cases := []struct {
		name   string
		config string
		args   []string // before "config check"; default: after it, --plugins DIR
		env    []string
		code   int
		want   []*regexp.Regexp
		absent []string
	}{
		{
			name:   "refused attributes",
			config: good + "stream \"bad\" {\n  source = \"test://smpte\"\n  plugin \"iso\" {\n    refuse = \"yes\"\n  }\n}\n",
			code:   1,
			want: []*regexp.Regexp{regexp.MustCompile(`lsie\.hcl:7:3: stream "bad": plugin "iso": refuses the stream \(version 0\.0\.1\): ` +
				`open_failed: bad_input: attribute refuse: "yes" is not accepted\n`)},
			absent: []string{`stream "good"`, "ok:"},
		},
		{
			// Checked against the plugins' attribute schemas, at each
			// attribute: a near miss gets a suggestion.
			name: "attribute schemas",
			config: "stream \"cam\" {\n  source = \"test://smpte\"\n  plugin \"slowplugin\" {\n    delay_msec = 10\n    slow_ms = \"slow\"\n  }\n" +
				"  plugin \"visual\" { threshold = 1 }\n}\n",
			code: 1,
			want: []*regexp.Regexp{
				regexp.MustCompile(`(?m)lsie\.hcl:4:5: stream "cam": plugin "slowplugin": unknown attribute "delay_msec" \(did you mean "delay_ms"\?\)$`),
				regexp.MustCompile(`(?m)lsie\.hcl:5:5: stream "cam": plugin "slowplugin": attribute "slow_ms": want an integer of at least 0, got "slow"$`),
				regexp.MustCompile(`(?m)lsie\.hcl:7:21: stream "cam": plugin "visual": unknown attribute "threshold" \(the plugin takes no attributes\)$`),
			},
			absent: []string{"ok:", "refuses the stream"},
		},
		{
			name:   "no version matches",
			config: "stream \"a\" {\n  source = \"test://smpte\"\n  plugin \"iso\" { version = \">= 2.0\" }\n}\n",
			code:   1,
			want: []*regexp.Regexp{regexp.MustCompile(`lsie\.hcl:3:3: stream "a": plugin "iso": no plugin version matches: ` +
				`plugin "iso" wants ">= 2\.0" for stream "a" \(\S*lsie\.hcl:3:3\); available in \S+: 0\.0\.1 \(iso\)\n`)},
			absent: []string{"ok:"},
		},
		{
			name: "every problem",
			config: "stream \"a\" {\n  source = \"test://smpte\"\n  plugin \"iso\" { version = \">= 2.0\" }\n  plugin \"nosuch\" {}\n}\n" +
				"stream \"b\" {\n  source = \"test://smpte\"\n  plugin \"iso\" { refuse = \"no thanks\" }\n}\n" +
				"stream \"c\" {\n  source = \"test://smpte\"\n  plugin \"listener\" {}\n}\n",
			code: 1,
			want: []*regexp.Regexp{
				regexp.MustCompile(`lsie\.hcl:3:3: stream "a": plugin "iso": no plugin version matches`),
				regexp.MustCompile(`lsie\.hcl:4:3: stream "a": plugin "nosuch": plugin not found: "nosuch"`),
				// The other stream using iso is still opened on it.
				regexp.MustCompile(`lsie\.hcl:8:3: stream "b": plugin "iso": refuses the stream \(version 0\.0\.1\): open_failed: bad_input: attribute refuse: "no thanks" is not accepted`),
				regexp.MustCompile(`lsie\.hcl:12:3: stream "c": plugin "listener": consumes "transcript\.final@1" but no plugin of this stream produces it`),
			},
			absent: []string{"ok:"},
		},
		{
			name:   "good",
			config: good + "stream \"more\" {\n  source = \"test://smpte\"\n  plugin \"iso\" { frame_sleep_ms = 1 }\n  plugin \"talker\" {}\n  plugin \"listener\" {}\n}\n",
			want: []*regexp.Regexp{regexp.MustCompile(`lsie\.hcl: ok: `),
				regexp.MustCompile(`\n  plugins in \S+ \(no lock\): ok: 2 streams, 3 plugins \(iso 0\.0\.1, talker 0\.0\.1, listener 0\.0\.1\), every stream opened on its plugins\n`)},
		},
		{
			name:   "global --plugins",
			config: good + "stream \"bad\" {\n  source = \"test://smpte\"\n  plugin \"iso\" { refuse = \"yes\" }\n}\n",
			args:   []string{"--plugins", pluginDir()},
			code:   1,
			want:   []*regexp.Regexp{regexp.MustCompile(`lsie\.hcl:7:3: stream "bad": plugin "iso": refuses the stream`)},
		},
		{
			name:   "LSIE_PLUGINS",
			config: good,
			args:   []string{},
			env:    []string{"LSIE_PLUGINS=" + pluginDir()},
			want:   []*regexp.Regexp{regexp.MustCompile(`plugins in \S+ \(no lock\): ok: 1 stream, 1 plugin \(iso 0\.0\.1\)`)},
		},
		{
			name:   "without a plugins directory, the config alone",
			config: good + "stream \"bad\" {\n  source = \"test://smpte\"\n  plugin \"iso\" { refuse = \"yes\" }\n}\n",
			args:   []string{},
			want:   []*regexp.Regexp{regexp.MustCompile(`lsie\.hcl: ok: `)},
			absent: []string{"plugins in"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, t.TempDir(), tc.config)
			args := []string{"config", "check", "--plugins", pluginDir(), path}
			if tc.args != nil {
				args = append(slices.Clone(tc.args), "config", "check", path)
			}
			cmd := exec.Command(hostBin(), args...)
			cmd.Env = append(withoutEnv("LSIE_PLUGINS", "LSIE_PLUGINS_LOCK"), tc.env...)
			b, err := cmd.CombinedOutput()
			out, code := string(b), 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s", code, tc.code, out)
			}
			for _, re := range tc.want {
				if !re.MatchString(out) {
					t.Errorf("output does not match %s:\n%s", re, out)
				}
			}
			for _, s := range tc.absent {
				if strings.Contains(out, s) {
					t.Errorf("output has %q:\n%s", s, out)
				}
			}
		})
	}
}

// withoutEnv is the environment less the named variables.
func withoutEnv(names ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(names, name) {
			env = append(env, kv)
		}
	}
	return env
}

// Commands that start plugins only to ask them something say nothing of
// each start and exit unless asked (--log-level), and a plugin's own log
// lines carry its name once.
func TestPluginToolsAreQuiet(t *testing.T) {
	out, code := runHost(t, "plugins", "ls", "--plugins", pluginDir())
	if code != 0 || strings.Contains(out, "plugin process exited") || strings.Contains(out, "starting plugin") {
		t.Errorf("plugins ls (exit %d) is noisy:\n%s", code, out)
	}
	out, code = runHost(t, "plugins", "ls", "--plugins", pluginDir(), "--log-level", "debug", "--log-format", "json")
	if code != 0 || !strings.Contains(out, "plugin process exited") {
		t.Errorf("plugins ls --log-level debug (exit %d) hides the plugin starts:\n%.2000s", code, out)
	}
	if strings.Contains(out, `visual.visual"`) || !strings.Contains(out, `.visual"`) {
		t.Errorf("plugin log lines do not carry the plugin's name once:\n%.2000s", out)
	}
}

// Every shipped config passes config check --plugins on the plugins built
// here: its plugin blocks against their plugins' attribute schemas, every
// stream opened on its plugins. A schema change that would refuse a
// shipped config fails here, not on a user's machine.
func TestShippedConfigsPassPluginSchemas(t *testing.T) {
	files, _ := filepath.Glob("../../configs/*.hcl")
	if len(files) == 0 {
		t.Fatal("no configs")
	}
	// Configs of streams this build cannot run are checked as far as it
	// can: the config itself, and that config check says why the streams
	// cannot run here. Name each; a new config gets the whole check.
	cannotRun := map[string]string{
		// gpustat and tensor64 take frames in CUDA memory: -tags cuda (make cuda-check).
		"cuda.hcl": "this binary cannot run it: built without CUDA",
	}
	models, err := filepath.Abs("../../var/models")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(models, "onnxruntime")); err != nil {
		testenv.Missing(t, "var/models (scripts/fetch-models.sh): the model plugins open their models")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if why, ok := cannotRun[filepath.Base(f)]; ok {
				out, err := exec.Command(hostBin(), "config", "check", f).CombinedOutput()
				if err != nil || !strings.Contains(string(out), why) {
					t.Errorf("config check %s: %v, want it valid and saying %q:\n%s", f, err, why, out)
				}
				return
			}
			cmd := exec.Command(hostBin(), "config", "check", "--plugins", pluginDir(), f)
			cmd.Env = append(withoutEnv("LSIE_PLUGINS", "LSIE_PLUGINS_LOCK", "LSIE_PLUGIN_MODEL_DIR"), "LSIE_PLUGIN_MODEL_DIR="+models)
			b, err := cmd.CombinedOutput()
			out := string(b)
			if err != nil || !strings.Contains(out, "every stream opened on its plugins") {
				t.Errorf("config check --plugins %s: %v\n%s", f, err, out)
			}
		})
	}
}
