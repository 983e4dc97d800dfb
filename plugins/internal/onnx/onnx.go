// Package onnx loads ONNX Runtime (the shared library fetched by
// scripts/fetch-models.sh, or one the user names) once per process and opens
// sessions with the plugins' common options.
package onnx

import (
	"fmt"
	"os"
	"sync"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/lsie-mlf/lsie/plugins/internal/models"
	"github.com/lsie-mlf/lsie/sdk"
)

// EnvLibrary overrides the runtime library's path (e.g. a GPU build of ONNX
// Runtime installed by the user).
const EnvLibrary = "LSIE_PLUGIN_ORT_LIB"

// LibraryName is the runtime's file inside the model folder.
const LibraryName = "onnxruntime/libonnxruntime.so.1"

var (
	once    sync.Once
	initErr error
	libPath string
)

// Attributes declares what this package reads: ort_library and
// execution_provider (with models.Attributes for the model folder, where
// the runtime's default copy lives).
func Attributes() []sdk.Attribute {
	return []sdk.Attribute{
		{Name: "ort_library", Type: sdk.AttrString,
			Description: "ONNX Runtime shared library to load (e.g. a GPU build); default $" + EnvLibrary + ", else " + LibraryName + " in the model folder; the first stream's choice holds for the process"},
		{Name: "execution_provider", Type: sdk.AttrEnum, Choices: []string{"cpu", "cuda"}, Default: "cpu",
			Description: "where the ONNX models run: cuda needs an ONNX Runtime with the CUDA provider (ort_library)"},
	}
}

// Init loads the runtime the first time it is called; later calls return the
// first call's result. The library is attrs' ort_library, else $LSIE_ORT_LIB,
// else the model folder's copy.
func Init(attrs map[string]string) error {
	once.Do(func() {
		p := attrs["ort_library"]
		if p == "" {
			p = os.Getenv(EnvLibrary)
		}
		var err error
		if p == "" {
			p, err = models.File(attrs, "ONNX Runtime library", LibraryName)
		} else {
			p, err = models.Require("ONNX Runtime library", p, "set ort_library / "+EnvLibrary+" to libonnxruntime.so")
		}
		if err != nil {
			initErr = err
			return
		}
		libPath = p
		ort.SetSharedLibraryPath(p)
		if err := ort.InitializeEnvironment(); err != nil {
			initErr = fmt.Errorf("load ONNX Runtime %s: %w", p, err)
		}
	})
	return initErr
}

// Library is the path of the loaded runtime, empty before a successful Init.
func Library() string { return libPath }

// SessionOptions are the plugins' common options: threads bounded (a plugin
// shares the machine with the host and other plugins; real-time audio models
// gain little from more), and the CUDA execution provider when the loaded
// runtime offers it and the user asked for it with attribute
// `execution_provider = "cuda"`.
func SessionOptions(attrs map[string]string, threads int) (*ort.SessionOptions, error) {
	o, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	if threads > 0 {
		if err := o.SetIntraOpNumThreads(threads); err != nil {
			o.Destroy()
			return nil, err
		}
		if err := o.SetInterOpNumThreads(1); err != nil {
			o.Destroy()
			return nil, err
		}
	}
	switch ep := attrs["execution_provider"]; ep {
	case "", "cpu":
	case "cuda":
		cu, err := ort.NewCUDAProviderOptions()
		if err != nil {
			o.Destroy()
			return nil, fmt.Errorf("execution_provider = \"cuda\": this ONNX Runtime (%s) has no CUDA provider: %w", libPath, err)
		}
		defer cu.Destroy()
		if err := o.AppendExecutionProviderCUDA(cu); err != nil {
			o.Destroy()
			return nil, fmt.Errorf("execution_provider = \"cuda\": %w", err)
		}
	default:
		o.Destroy()
		return nil, fmt.Errorf("execution_provider = %q: want \"cpu\" or \"cuda\"", ep)
	}
	return o, nil
}

// Prepare loads the runtime (Init) and returns session options with
// SessionOptions' settings: the steps every model of the plugins takes
// before it opens a session. The caller destroys the options.
func Prepare(attrs map[string]string, threads int) (*ort.SessionOptions, error) {
	if err := Init(attrs); err != nil {
		return nil, err
	}
	return SessionOptions(attrs, threads)
}
