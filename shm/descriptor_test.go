package shm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

func validDescriptor() Descriptor {
	return Descriptor{
		Stream:     7,
		Region:     3,
		Slot:       5,
		Memory:     MemoryHost,
		Format:     FormatRGB24,
		Width:      1920,
		Height:     1080,
		Stride:     1920 * 3,
		Generation: 42,
		Seq:        1 << 40,
		PTS:        -33_000_000,
		SentNanos:  123456789,
	}
}

func TestDescriptorRoundTrip(t *testing.T) {
	cases := []Descriptor{
		validDescriptor(),
		{Memory: MemoryCUDA, Device: 3, Format: FormatRGBA, Width: 1, Height: 1, Stride: 4},
		{Stream: ^uint32(0), Region: ^uint32(0), Slot: ^uint32(0), Format: FormatGray8,
			Width: 1 << 15, Height: 1 << 15, Stride: 1 << 15, Generation: ^uint64(0) - 1,
			Seq: ^uint64(0), PTS: -1 << 63, SentNanos: 1<<63 - 1},
	}
	for _, want := range cases {
		b := make([]byte, DescriptorSize)
		want.Put(b)
		var got Descriptor
		if err := got.Parse(b); err != nil {
			t.Fatalf("Parse(Put(%+v)): %v", want, err)
		}
		if got != want {
			t.Fatalf("round trip: got %+v, want %+v", got, want)
		}
	}
}

func TestDescriptorLayout(t *testing.T) {
	// Pin the wire format: plugins in other languages decode these offsets.
	d := validDescriptor()
	b := make([]byte, DescriptorSize)
	d.Put(b)
	le := binary.LittleEndian
	checks := []struct {
		name string
		got  uint64
		want uint64
	}{
		{"stream", uint64(le.Uint32(b[0:])), 7},
		{"region", uint64(le.Uint32(b[4:])), 3},
		{"slot", uint64(le.Uint32(b[8:])), 5},
		{"memory", uint64(b[12]), uint64(MemoryHost)},
		{"format", uint64(b[13]), uint64(FormatRGB24)},
		{"device", uint64(le.Uint16(b[14:])), 0},
		{"width", uint64(le.Uint32(b[16:])), 1920},
		{"height", uint64(le.Uint32(b[20:])), 1080},
		{"stride", uint64(le.Uint32(b[24:])), 5760},
		{"reserved", uint64(le.Uint32(b[28:])), 0},
		{"generation", le.Uint64(b[32:]), 42},
		{"seq", le.Uint64(b[40:]), 1 << 40},
		{"pts", le.Uint64(b[48:]), uint64(d.PTS)},
		{"sent", le.Uint64(b[56:]), 123456789},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %d, want %d", c.name, c.got, c.want)
		}
	}
}

func TestDescriptorPutPanicsOnShortBuffer(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Put into 63 bytes did not panic")
		}
	}()
	d := validDescriptor()
	d.Put(make([]byte, DescriptorSize-1))
}

func TestDescriptorParseErrors(t *testing.T) {
	cases := []struct {
		name string
		edit func(d *Descriptor)
		raw  func(b []byte) []byte
		want string
	}{
		{name: "short", raw: func(b []byte) []byte { return b[:63] },
			want: "shm: bad descriptor: length 63, want 64"},
		{name: "long", raw: func(b []byte) []byte { return append(b, 0) },
			want: "shm: bad descriptor: length 65, want 64"},
		{name: "empty", raw: func([]byte) []byte { return nil },
			want: "shm: bad descriptor: length 0, want 64"},
		{name: "reserved", raw: func(b []byte) []byte { b[30] = 1; return b },
			want: "shm: bad descriptor: reserved bytes 0x10000, want 0"},
		{name: "memory kind", edit: func(d *Descriptor) { d.Memory = 2 },
			want: "shm: bad descriptor: unknown memory kind 2"},
		{name: "device on host memory", edit: func(d *Descriptor) { d.Device = 1 },
			want: "shm: bad descriptor: device 1 with host memory"},
		{name: "format zero", edit: func(d *Descriptor) { d.Format = 0 },
			want: "shm: bad descriptor: unknown format 0"},
		{name: "format unknown", edit: func(d *Descriptor) { d.Format = 99 },
			want: "shm: bad descriptor: unknown format 99"},
		{name: "zero width", edit: func(d *Descriptor) { d.Width = 0 },
			want: "shm: bad descriptor: width is 0"},
		{name: "zero height", edit: func(d *Descriptor) { d.Height = 0 },
			want: "shm: bad descriptor: height is 0"},
		{name: "stride below row", edit: func(d *Descriptor) { d.Stride = 1920*3 - 1 },
			want: "shm: bad descriptor: stride 5759 < width 1920 * 3 bytes per pixel"},
		{name: "row overflows uint32", edit: func(d *Descriptor) {
			d.Format, d.Width, d.Stride = FormatRGBA, 1<<30, ^uint32(0)
		}, want: "shm: bad descriptor: stride 4294967295 < width 1073741824 * 4 bytes per pixel"},
		{name: "odd generation", edit: func(d *Descriptor) { d.Generation = 43 },
			want: "shm: bad descriptor: odd generation 43"},
		{name: "size overflow", edit: func(d *Descriptor) {
			d.Format, d.Width, d.Height, d.Stride = FormatGray8, 1, ^uint32(0), ^uint32(0)
		}, want: "shm: bad descriptor: frame size stride 4294967295 * rows 4294967295 = 18446744065119617025 exceeds 1073741824"},
		{name: "size just over max", edit: func(d *Descriptor) {
			d.Format, d.Width, d.Height, d.Stride = FormatGray8, 1, 1<<20, 1<<10+1
		}, want: "shm: bad descriptor: frame size stride 1025 * rows 1048576 = 1074790400 exceeds 1073741824"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := validDescriptor()
			if tc.edit != nil {
				tc.edit(&d)
			}
			b := make([]byte, DescriptorSize)
			d.Put(b)
			if tc.raw != nil {
				b = tc.raw(b)
			}
			got := Descriptor{Stream: 99}
			err := got.Parse(b)
			if err == nil {
				t.Fatalf("Parse accepted %+v", d)
			}
			if err.Error() != tc.want {
				t.Fatalf("error:\n got %q\nwant %q", err, tc.want)
			}
			if !errors.Is(err, ErrDescriptor) {
				t.Fatalf("error %v does not wrap ErrDescriptor", err)
			}
			if got != (Descriptor{Stream: 99}) {
				t.Fatalf("Parse modified the descriptor on error: %+v", got)
			}
		})
	}
}

func TestDescriptorAtMaxFrameBytes(t *testing.T) {
	d := validDescriptor()
	d.Format, d.Width, d.Height, d.Stride = FormatGray8, 1, 1<<20, 1<<10
	b := make([]byte, DescriptorSize)
	d.Put(b)
	var got Descriptor
	if err := got.Parse(b); err != nil {
		t.Fatal(err)
	}
	if got.FrameBytes() != MaxFrameBytes {
		t.Fatalf("FrameBytes = %d, want %d", got.FrameBytes(), MaxFrameBytes)
	}
}

func TestEnumStrings(t *testing.T) {
	cases := []struct{ got, want string }{
		{MemoryHost.String(), "host"},
		{MemoryCUDA.String(), "cuda"},
		{MemoryKind(9).String(), "MemoryKind(9)"},
		{FormatRGB24.String(), "rgb24"},
		{FormatGray8.String(), "gray8"},
		{FormatRGBA.String(), "rgba"},
		{PixelFormat(0).String(), "PixelFormat(0)"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	bpp := map[PixelFormat]int{FormatRGB24: 3, FormatGray8: 1, FormatRGBA: 4, 0: 0, 200: 0}
	for f, want := range bpp {
		if got := f.BytesPerPixel(); got != want {
			t.Errorf("%s.BytesPerPixel() = %d, want %d", f, got, want)
		}
	}
}

func TestMonotonicNanos(t *testing.T) {
	a := MonotonicNanos()
	b := MonotonicNanos()
	if a <= 0 || b < a {
		t.Fatalf("MonotonicNanos went %d then %d", a, b)
	}
}

func FuzzDescriptorParse(f *testing.F) {
	for _, d := range []Descriptor{
		validDescriptor(),
		{Memory: MemoryCUDA, Device: 1, Format: FormatRGBA, Width: 640, Height: 480, Stride: 2560, Generation: 2},
	} {
		b := make([]byte, DescriptorSize)
		d.Put(b)
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add(make([]byte, DescriptorSize))
	f.Add(bytes.Repeat([]byte{0xff}, DescriptorSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		var d Descriptor
		if err := d.Parse(b); err != nil {
			if !errors.Is(err, ErrDescriptor) {
				t.Fatalf("error %v does not wrap ErrDescriptor", err)
			}
			return
		}
		if d.FrameBytes() <= 0 || d.FrameBytes() > MaxFrameBytes {
			t.Fatalf("accepted FrameBytes %d", d.FrameBytes())
		}
		out := make([]byte, DescriptorSize)
		d.Put(out)
		if !bytes.Equal(out, b) {
			t.Fatalf("Put(Parse(b)) = %x, want %x", out, b)
		}
	})
}

// NV12 frames are the luma plane plus a half-height chroma plane, both at
// the descriptor's stride.
func TestNV12Geometry(t *testing.T) {
	for _, tc := range []struct{ w, h, stride, bytes int }{
		{640, 360, 640, 640 * 540},
		{3, 3, 4, 4 * 5}, // odd sizes round the chroma plane up
		{1, 1, 1, 2},
	} {
		d := Descriptor{Memory: MemoryHost, Format: FormatNV12, Width: uint32(tc.w), Height: uint32(tc.h), Stride: uint32(tc.stride)}
		var b [DescriptorSize]byte
		d.Put(b[:])
		var got Descriptor
		if err := got.Parse(b[:]); err != nil {
			t.Fatalf("%dx%d: %v", tc.w, tc.h, err)
		}
		if got.FrameBytes() != tc.bytes || got.Format.String() != "nv12" {
			t.Errorf("%dx%d stride %d: %d bytes (%s), want %d", tc.w, tc.h, tc.stride, got.FrameBytes(), got.Format, tc.bytes)
		}
	}
	d := Descriptor{Memory: MemoryHost, Format: FormatNV12, Width: 8, Height: 2, Stride: 7}
	var b [DescriptorSize]byte
	d.Put(b[:])
	var bad Descriptor
	if err := bad.Parse(b[:]); err == nil {
		t.Fatal("NV12 stride below the width accepted")
	}
}

// RGBF32 tensors are three float32 planes at the descriptor's stride.
func TestRGBF32Geometry(t *testing.T) {
	d := Descriptor{Memory: MemoryCUDA, Format: FormatRGBF32, Width: 640, Height: 640, Stride: 2560}
	var b [DescriptorSize]byte
	d.Put(b[:])
	var got Descriptor
	if err := got.Parse(b[:]); err != nil {
		t.Fatal(err)
	}
	if got.FrameBytes() != 3*640*640*4 || got.Format.String() != "rgbf32" {
		t.Errorf("%d bytes (%s), want %d rgbf32", got.FrameBytes(), got.Format, 3*640*640*4)
	}
	d.Stride = 2559
	d.Put(b[:])
	if err := got.Parse(b[:]); err == nil {
		t.Fatal("RGBF32 stride below 4 bytes per pixel accepted")
	}
}
