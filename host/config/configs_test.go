package config

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// configsDir is the repository's configs/ directory, relative to this package.
var configsDir = filepath.Join("..", "..", "configs")

// TestConfigsPassCheck loads every file in configs/: each must parse,
// validate and be runnable, as `config check` would require.
func TestConfigsPassCheck(t *testing.T) {
	hermeticEnv(t)
	files, err := filepath.Glob(filepath.Join(configsDir, "*.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no .hcl files in %s", configsDir)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			c, err := Load(file)
			if err != nil {
				t.Fatalf("Load:\n%v", err)
			}
			if err := c.ValidateRunnable(); err != nil {
				t.Fatalf("ValidateRunnable:\n%v", err)
			}
		})
	}
}

var (
	// defaultNote is how configs/example.hcl documents a default: a trailing
	// "# (default: VALUE)" on the attribute's own line, VALUE in HCL syntax.
	defaultNote = regexp.MustCompile(`^(\s*)([A-Za-z_][A-Za-z0-9_]*)\s*=.*#\s*\(default:\s*(.+)\)\s*$`)
	blockOpen   = regexp.MustCompile(`^\s*([A-Za-z_][A-Za-z0-9_]*)(\s+"[^"]*")*\s*\{\s*(#.*)?$`)
	blockClose  = regexp.MustCompile(`^\s*\}\s*$`)
)

// TestExampleDocumentsDefaults checks that every default documented in
// configs/example.hcl is the code's default. It builds two variants of the
// file: one with each documented attribute set to its documented default,
// one with those attributes removed so the code's defaults apply. The two
// must decode to the same configuration. It also checks that every field
// with a default is documented.
func TestExampleDocumentsDefaults(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(configsDir, "example.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(src), "\n")
	documented := make([]string, len(lines))
	removed := make([]string, len(lines))
	seen := map[string]bool{}
	var stack []string
	for i, line := range lines {
		documented[i], removed[i] = line, line
		switch m := defaultNote.FindStringSubmatch(line); {
		case m != nil:
			documented[i] = m[1] + m[2] + " = " + m[3]
			removed[i] = "" // keeps line numbers, so positions agree
			seen[strings.Join(append(stack[:len(stack):len(stack)], m[2]), ".")] = true
		case blockOpen.MatchString(line):
			stack = append(stack, blockOpen.FindStringSubmatch(line)[1])
		case blockClose.MatchString(line) && len(stack) > 0:
			stack = stack[:len(stack)-1]
		}
	}

	want := []string{
		"segment.duration", "segment.max_close_delay", "store.sqlite", "store.spool_max_mb", "api.listen", "api.token", "api.allowed_hosts",
		"stream.realtime", "stream.loop", "stream.video.fps", "stream.video.max_width", "stream.video.memory", "stream.video.gpu",
		"stream.plugin.window", "stream.plugin.event_bound",
		"telemetry.tolerance", "telemetry.max_body", "telemetry.max_events", "telemetry.payload_retention",
		"telemetry.purge_interval", "analytics.au", "analytics.au_plugin", "analytics.semantic_plugin",
		"analytics.min_frames", "analytics.physiology.window", "analytics.physiology.stale_after",
		"analytics.physiology.absent_after", "analytics.physiology.min_intervals",
		"analytics.comodulation.window", "analytics.comodulation.min_samples",
		"experiment.assignment", "experiment.prior_alpha", "experiment.prior_beta",
		"enrichment.attempts", "enrichment.backoff", "enrichment.workers",
	}
	var got []string
	for k := range seen {
		got = append(got, k)
	}
	sort.Strings(got)
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("documented defaults in example.hcl:\n got %v\nwant %v", got, want)
	}

	withDocs, err := Parse([]byte(strings.Join(documented, "\n")), "example.hcl")
	if err != nil {
		t.Fatalf("example.hcl with documented defaults:\n%v", err)
	}
	withCode, err := Parse([]byte(strings.Join(removed, "\n")), "example.hcl")
	if err != nil {
		t.Fatalf("example.hcl without documented attributes:\n%v", err)
	}
	if !reflect.DeepEqual(withDocs, withCode) {
		t.Errorf("defaults documented in example.hcl differ from the code's:\ndocumented %+v\n      code %+v", withDocs, withCode)
	}
	if !reflect.DeepEqual(withCode.Segment, Default().Segment) || withCode.Store != Default().Store || !reflect.DeepEqual(withCode.API, Default().API) {
		t.Errorf("example.hcl without documented attributes = %+v, want Default() %+v", withCode, Default())
	}
}
