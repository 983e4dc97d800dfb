package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestGoldenDiagnostics loads every testdata/bad/*.hcl and compares its
// diagnostics with the matching .golden file; -update rewrites them.
func TestGoldenDiagnostics(t *testing.T) {
	hermeticEnv(t)
	files, err := filepath.Glob(filepath.Join("testdata", "bad", "*.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/bad/*.hcl files")
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".hcl")
		t.Run(name, func(t *testing.T) {
			c, err := Load(file)
			if err == nil {
				t.Fatalf("Load(%s) succeeded: %+v", file, c)
			}
			var ds Diagnostics
			if !errors.As(err, &ds) {
				t.Fatalf("Load(%s) error is %T, want Diagnostics: %v", file, err, err)
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(file, ".hcl") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("diagnostics of %s differ from %s:\n--- got\n%s--- want\n%s", file, golden, got, want)
			}
		})
	}
}
