//go:build cuda

package cuda

import (
	"fmt"
	"math"
	"unsafe"

	"gorgonia.org/cu"
	"gorgonia.org/cu/nvrtc"
)

// Compile compiles CUDA C source with NVRTC for dev's compute capability and
// loads it as a module. Options are added to the defaults (-arch, and
// --fmad=false so results match a CPU reference to rounding).
func Compile(dev *Device, name, source string, options ...string) (cu.Module, error) {
	major, err := dev.dev.Attribute(cu.ComputeCapabilityMajor)
	if err != nil {
		return cu.Module{}, fmt.Errorf("compile %s: compute capability: %w", name, err)
	}
	minor, err := dev.dev.Attribute(cu.ComputeCapabilityMinor)
	if err != nil {
		return cu.Module{}, fmt.Errorf("compile %s: compute capability: %w", name, err)
	}
	prog, err := nvrtc.CreateProgram(source, name)
	if err != nil {
		return cu.Module{}, fmt.Errorf("compile %s: %w", name, err)
	}
	defer prog.Destroy()
	// PTX for the device's own architecture: the driver JITs it once.
	opts := append([]string{fmt.Sprintf("--gpu-architecture=compute_%d%d", major, minor), "--fmad=false"}, options...)
	if err := prog.Compile(opts...); err != nil {
		log, _ := prog.GetLog()
		return cu.Module{}, fmt.Errorf("compile %s: %w\n%s", name, err, log)
	}
	ptx, err := prog.GetPTX()
	if err != nil {
		return cu.Module{}, fmt.Errorf("compile %s: get PTX: %w", name, err)
	}
	var mod cu.Module
	err = dev.Do(func() error {
		var err error
		mod, err = cu.LoadData(ptx)
		return err
	})
	if err != nil {
		return cu.Module{}, fmt.Errorf("compile %s: load module: %w", name, err)
	}
	return mod, nil
}

// Preprocessor runs the preprocessing kernel (kernels/preprocess.cu) for one
// declared input: NV12 on the device to normalised planar RGB float32.
type Preprocessor struct {
	dev  *Device
	spec PreprocessSpec
	mod  cu.Module
	fn   cu.Function
	// The kernel's arguments, kept so a launch per frame allocates nothing
	// here; a Preprocessor is therefore used by one goroutine at a time.
	vals [13]uint64
	args [13]unsafe.Pointer
}

// NewPreprocessor compiles the kernel for dev.
func NewPreprocessor(dev *Device, spec PreprocessSpec) (*Preprocessor, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	mod, err := Compile(dev, "preprocess.cu", PreprocessSource)
	if err != nil {
		return nil, err
	}
	var fn cu.Function
	err = dev.Do(func() error {
		var err error
		fn, err = mod.Function(PreprocessKernel)
		return err
	})
	if err != nil {
		_ = dev.Do(mod.Unload)
		return nil, fmt.Errorf("preprocess kernel %s: %w", PreprocessKernel, err)
	}
	return &Preprocessor{dev: dev, spec: spec, mod: mod, fn: fn}, nil
}

// Spec returns the declared input.
func (p *Preprocessor) Spec() PreprocessSpec { return p.spec }

// OutputBytes returns the size of one output tensor in device memory.
func (p *Preprocessor) OutputBytes() int { return 4 * p.spec.Floats() }

const preprocessBlock = 16 // 16x16 threads

// Launch queues the kernel on stream: src is an NV12 frame of width x height
// with pitch bytes per row, dst holds OutputBytes. It must run inside
// p's device context (Device.Do); it does not wait for the kernel.
func (p *Preprocessor) Launch(stream cu.Stream, src cu.DevicePtr, pitch, width, height int, dst cu.DevicePtr) error {
	if width < 1 || height < 1 || pitch < width {
		return fmt.Errorf("%w: frame %dx%d pitch %d", ErrPreprocess, width, height, pitch)
	}
	s := p.spec
	// cu's Launch copies 8 bytes from every parameter, so each one gets a
	// whole 64-bit slot (little-endian: the kernel reads the low bytes).
	f32 := func(v float32) uint64 { return uint64(math.Float32bits(v)) }
	i32 := func(v int) uint64 { return uint64(uint32(int32(v))) }
	p.vals = [...]uint64{uint64(src), i32(pitch), i32(width), i32(height), uint64(dst), i32(s.Width), i32(s.Height),
		f32(s.Mean[0]), f32(s.Mean[1]), f32(s.Mean[2]), f32(s.Std[0]), f32(s.Std[1]), f32(s.Std[2])}
	for i := range p.vals {
		p.args[i] = unsafe.Pointer(&p.vals[i])
	}
	gx := (s.Width + preprocessBlock - 1) / preprocessBlock
	gy := (s.Height + preprocessBlock - 1) / preprocessBlock
	if err := p.fn.Launch(gx, gy, 1, preprocessBlock, preprocessBlock, 1, 0, stream, p.args[:]); err != nil {
		return fmt.Errorf("launch %s: %w", PreprocessKernel, err)
	}
	return nil
}

// Close unloads the kernel's module.
func (p *Preprocessor) Close() error {
	if err := p.dev.Do(p.mod.Unload); err != nil {
		return fmt.Errorf("unload preprocess module: %w", err)
	}
	return nil
}
