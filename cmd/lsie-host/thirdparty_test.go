package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/lsie-mlf/lsie/host/store/sqlite"
)

// A plugin built in its own module against the public SDK only runs
// through the real host: the proof that a third party can build one.
func TestThirdPartyPluginThroughHost(t *testing.T) {
	dir := t.TempDir()
	plugins := buildExamplePlugin(t, dir, "brightness")
	white := clip(t, dir, "white", "pattern=white")
	cfg := writeConfig(t, dir, fmt.Sprintf(`segment { duration = "1s" }
store { sqlite = %q }
api { listen = "127.0.0.1:0" }
stream "w" {
  source = "file://%s"
  realtime = false
  plugin "brightness" { threshold = 60 }
}
`, filepath.Join(dir, "lsie.db"), white))
	cmd := exec.Command(hostBin(), "--plugins", plugins, "--config", cfg, "--exit-when-done")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("host: %v\n%s", err, out)
	}
	// The live table shows the third-party plugin's declared fields: a
	// centre_luma column, and a white clip's value in it.
	lines := strings.Split(string(out), "\n")
	col := -1
	for i, l := range lines {
		if f := strings.Fields(l); len(f) > 0 && f[0] == "STREAM" && i+1 < len(lines) {
			col = slices.Index(f, "centre_luma")
			row := strings.Fields(lines[i+1])
			if col < 0 || col >= len(row) {
				break
			}
			if v, err := strconv.ParseFloat(row[col], 64); err != nil || v < 200 {
				t.Errorf("centre_luma %q in the live table, want a white clip's", row[col])
			}
			break
		}
	}
	if col < 0 {
		t.Errorf("live table without the plugin's centre_luma column:\n%s", out)
	}
	db, err := sqlite.Open(filepath.Join(dir, "lsie.db"), hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := db.Segments(context.Background(), "w", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 3 {
		t.Fatalf("%d segments, want 3", len(st))
	}
	for _, seg := range st {
		p, ok := seg.Plugins["brightness"]
		if !ok || p.FramesAnalysed != 5 || p.Errors != 0 {
			t.Errorf("segment %d: %+v", seg.Index, p)
		}
	}
}

// buildExamplePlugin builds the Go module examples/NAME into a plugins
// directory under dir, as a third party would build theirs, and returns
// the directory.
func buildExamplePlugin(t *testing.T, dir, name string) string {
	t.Helper()
	plugins := filepath.Join(dir, "plugins")
	if err := os.MkdirAll(plugins, 0o755); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-o", filepath.Join(plugins, name), ".")
	build.Dir = filepath.Join("..", "..", "examples", name)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building examples/%s in its own module: %v\n%s", name, err, out)
	}
	return plugins
}
