package whisper

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/lsie-mlf/lsie/internal/testenv"
	"github.com/lsie-mlf/lsie/plugins/internal/onnx"
)

// debianPython is the interpreter with numpy and onnx (the one on PATH may
// be a pyenv without them).
const debianPython = "/usr/bin/python3"

// python skips (or, in CI, fails) unless debianPython imports modules.
func python(tb testing.TB, modules string) {
	tb.Helper()
	if err := exec.Command(debianPython, "-c", "import "+modules).Run(); err != nil {
		testenv.Missing(tb, "%s with %s (python3-numpy, python3-onnx): %v", debianPython, modules, err)
	}
}

// repoModels is the repository's model folder, with ONNX Runtime.
func repoModels(tb testing.TB) string {
	tb.Helper()
	d, err := filepath.Abs("../../../var/models")
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(d, onnx.LibraryName)); err != nil {
		testenv.Missing(tb, "ONNX Runtime in var/models (scripts/fetch-models.sh)")
	}
	return d
}

// tinyModel writes the test model of testdata/tiny_whisper.py into a
// temporary folder and returns it.
func tinyModel(tb testing.TB, variant string) string {
	tb.Helper()
	python(tb, "numpy, onnx")
	dir := tb.TempDir()
	out, err := exec.Command(debianPython, "testdata/tiny_whisper.py", dir, variant).CombinedOutput()
	if err != nil {
		tb.Fatalf("tiny_whisper.py %s: %v\n%s", variant, err, out)
	}
	return dir
}

// openTiny opens the engine on a tiny model with extra attributes.
func openTiny(tb testing.TB, dir string, extra map[string]string) (*Recognizer, error) {
	tb.Helper()
	attrs := map[string]string{"model_dir": repoModels(tb), "whisper_dir": dir, "whisper_threads": "1"}
	for k, v := range extra {
		attrs[k] = v
	}
	rec, err := New(attrs)
	if err != nil {
		return nil, err
	}
	r := rec.(*Recognizer)
	tb.Cleanup(func() { r.Close() })
	return r, nil
}

// chirp is a linear sweep from f0 to f1 Hz over n samples.
func chirp(n int, f0, f1, amp float64) []int16 {
	s := make([]int16, n)
	dur := float64(n) / sampleRate
	for i := range s {
		t := float64(i) / sampleRate
		s[i] = int16(amp * 32767 * math.Sin(2*math.Pi*(f0*t+(f1-f0)*t*t/(2*dur))))
	}
	return s
}
