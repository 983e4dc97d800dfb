package onnx

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/lsie-mlf/lsie/internal/testenv"
	"github.com/lsie-mlf/lsie/plugins/internal/models"
)

// repoModels is the repository's model folder, as fetched by setup.
func repoModels(t *testing.T) string {
	t.Helper()
	d, err := filepath.Abs("../../../var/models")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(d, LibraryName)); err != nil {
		testenv.Missing(t, "ONNX Runtime in var/models (scripts/fetch-models.sh)")
	}
	return d
}

func TestMissingLibraryNamesFile(t *testing.T) {
	_, err := models.File(map[string]string{"model_dir": "/nonexistent/models"}, "ONNX Runtime library", LibraryName)
	var me *models.MissingError
	if !errors.As(err, &me) || !strings.Contains(err.Error(), "/nonexistent/models/onnxruntime/libonnxruntime.so.1") || !strings.Contains(err.Error(), "fetch-models.sh") {
		t.Fatalf("err = %v", err)
	}
}

func TestInitAndRunSilero(t *testing.T) {
	dir := repoModels(t)
	attrs := map[string]string{"model_dir": dir}
	if err := Init(attrs); err != nil {
		t.Fatal(err)
	}
	if err := Init(attrs); err != nil { // idempotent
		t.Fatal(err)
	}
	in, out, err := ort.GetInputOutputInfo(filepath.Join(dir, "silero/silero_vad_v5.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if len(in) != 3 || len(out) != 2 {
		t.Fatalf("silero inputs %v outputs %v", in, out)
	}
	o, err := SessionOptions(attrs, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Destroy()
	if _, err := SessionOptions(map[string]string{"execution_provider": "tpu"}, 1); err == nil || !strings.Contains(err.Error(), "execution_provider") {
		t.Fatalf("bad provider: %v", err)
	}
	// This runtime is the CPU build: asking for CUDA is a clear error.
	if _, err := SessionOptions(map[string]string{"execution_provider": "cuda"}, 1); err == nil || !strings.Contains(err.Error(), "cuda") {
		t.Fatalf("cuda on CPU build: %v", err)
	}
}
