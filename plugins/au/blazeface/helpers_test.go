package blazeface

import (
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"

	"github.com/lsie-mlf/lsie/internal/testenv"
	"github.com/lsie-mlf/lsie/plugins/au/internal/img"
)

// repoVar is the repository's var folder (models and test media).
const repoVar = "../../../var"

// openTest opens a detector on the repository's model folder with extra
// attributes, skipping (failing under CI) when the model is absent.
func openTest(tb testing.TB, kv ...string) *Detector {
	tb.Helper()
	dir, err := filepath.Abs(filepath.Join(repoVar, "models"))
	if err != nil {
		tb.Fatal(err)
	}
	for _, f := range []string{ModelFile, "onnxruntime/libonnxruntime.so.1"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			testenv.Missing(tb, "%s in var/models (scripts/fetch-models.sh)", f)
		}
	}
	attrs := map[string]string{"model_dir": dir}
	for i := 0; i+1 < len(kv); i += 2 {
		attrs[kv[i]] = kv[i+1]
	}
	d, err := Open(attrs)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { d.Close() })
	return d
}

// loadPhoto decodes var/media/faces/name into a packed RGB frame.
func loadPhoto(tb testing.TB, name string) img.RGB {
	tb.Helper()
	p := filepath.Join(repoVar, "media/faces", name)
	f, err := os.Open(p)
	if err != nil {
		testenv.Missing(tb, "test photo %s", p)
	}
	defer f.Close()
	m, err := jpeg.Decode(f)
	if err != nil {
		tb.Fatal(err)
	}
	return toRGB(m)
}

func toRGB(m image.Image) img.RGB {
	b := m.Bounds()
	im := img.RGB{W: b.Dx(), H: b.Dy(), Stride: 3 * b.Dx()}
	im.Pix = make([]byte, im.Stride*im.H)
	for y := 0; y < im.H; y++ {
		for x := 0; x < im.W; x++ {
			r, g, bb, _ := m.At(b.Min.X+x, b.Min.Y+y).RGBA()
			o := y*im.Stride + 3*x
			im.Pix[o], im.Pix[o+1], im.Pix[o+2] = byte(r>>8), byte(g>>8), byte(bb>>8)
		}
	}
	return im
}

// scale resizes im by area averaging (a test helper, not the detector's
// sampler, so tests do not check the sampler with itself).
func scale(im img.RGB, w, h int) img.RGB {
	out := img.RGB{W: w, H: h, Stride: 3 * w, Pix: make([]byte, 3*w*h)}
	for y := 0; y < h; y++ {
		y0, y1 := y*im.H/h, max(y*im.H/h+1, (y+1)*im.H/h)
		for x := 0; x < w; x++ {
			x0, x1 := x*im.W/w, max(x*im.W/w+1, (x+1)*im.W/w)
			var s [3]int
			for yy := y0; yy < y1; yy++ {
				for xx := x0; xx < x1; xx++ {
					o := yy*im.Stride + 3*xx
					s[0] += int(im.Pix[o])
					s[1] += int(im.Pix[o+1])
					s[2] += int(im.Pix[o+2])
				}
			}
			n := (y1 - y0) * (x1 - x0)
			o := y*out.Stride + 3*x
			out.Pix[o], out.Pix[o+1], out.Pix[o+2] = byte(s[0]/n), byte(s[1]/n), byte(s[2]/n)
		}
	}
	return out
}
