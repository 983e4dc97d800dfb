package expression

import (
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"

	"github.com/lsie-mlf/lsie/plugins/au/internal/img"
)

// face is a face in one of the sample photos: its box as a detector would
// give it (brows to chin, ear to ear; read off the photo by eye once) and
// whether the person smiles (judged by eye).
type face struct {
	photo string
	id    string
	box   img.Rect
	smile smile
}

// smile is how clearly a face smiles, judged by eye.
type smile string

const (
	clear  smile = "smile"  // lips drawn wide, mostly teeth showing
	slight smile = "slight" // closed-lip or half smile: not ranked
	no     smile = "no"     // neutral, pout, looking down
)

// faces are the sample photos' faces. Boxes are in pixels of the
// 1920-wide originals; FaceBox grows them to the crop human takes.
var faces = []face{
	{"sample1.jpg", "1a left, joker make-up", img.Rect{X0: 420, Y0: 370, X1: 630, Y1: 600}, slight},
	{"sample1.jpg", "1b middle, looking down", img.Rect{X0: 830, Y0: 450, X1: 1000, Y1: 660}, slight},
	{"sample1.jpg", "1c right, open smile", img.Rect{X0: 1470, Y0: 240, X1: 1660, Y1: 450}, clear},
	{"sample2.jpg", "2a left, profile", img.Rect{X0: 370, Y0: 160, X1: 540, Y1: 420}, slight},
	{"sample2.jpg", "2b middle, looking down", img.Rect{X0: 880, Y0: 220, X1: 1080, Y1: 460}, no},
	{"sample2.jpg", "2c right, looking down", img.Rect{X0: 1430, Y0: 180, X1: 1640, Y1: 400}, no},
	{"sample3.jpg", "3a left, pout", img.Rect{X0: 590, Y0: 370, X1: 770, Y1: 600}, no},
	{"sample3.jpg", "3b middle, smile", img.Rect{X0: 1070, Y0: 250, X1: 1260, Y1: 500}, clear},
	{"sample3.jpg", "3c right, smile", img.Rect{X0: 1500, Y0: 290, X1: 1690, Y1: 570}, clear},
	{"sample4.jpg", "4a left", img.Rect{X0: 280, Y0: 220, X1: 430, Y1: 420}, slight},
	{"sample4.jpg", "4b second", img.Rect{X0: 660, Y0: 90, X1: 840, Y1: 320}, no},
	{"sample4.jpg", "4c third, smile", img.Rect{X0: 990, Y0: 170, X1: 1180, Y1: 420}, clear},
	{"sample4.jpg", "4d right, laugh", img.Rect{X0: 1270, Y0: 150, X1: 1430, Y1: 400}, clear},
	{"sample5.jpg", "5a top", img.Rect{X0: 800, Y0: 130, X1: 930, Y1: 340}, no},
	{"sample5.jpg", "5b middle left", img.Rect{X0: 640, Y0: 430, X1: 780, Y1: 640}, clear},
	{"sample5.jpg", "5c top right", img.Rect{X0: 1100, Y0: 200, X1: 1250, Y1: 410}, clear},
	{"sample5.jpg", "5d right", img.Rect{X0: 1400, Y0: 390, X1: 1580, Y1: 660}, no},
	{"sample5.jpg", "5e bottom left", img.Rect{X0: 360, Y0: 880, X1: 580, Y1: 1160}, no},
	{"sample6.jpg", "6a left", img.Rect{X0: 240, Y0: 500, X1: 470, Y1: 760}, slight},
	{"sample6.jpg", "6b second, smile", img.Rect{X0: 660, Y0: 310, X1: 860, Y1: 610}, clear},
	{"sample6.jpg", "6c third, pout", img.Rect{X0: 1160, Y0: 300, X1: 1380, Y1: 570}, no},
	{"sample6.jpg", "6d right", img.Rect{X0: 1480, Y0: 280, X1: 1700, Y1: 570}, slight},
}

// facesDir is the sample photos' folder, from this package's folder.
var facesDir = filepath.Join("..", "..", "..", "var", "media", "faces")

// loadGray decodes a JPEG's luma (JFIF's Y is BT.601 full range, the
// weights human uses for RGB to gray, to 1e-4).
func loadGray(tb testing.TB, name string) img.Gray {
	tb.Helper()
	f, err := os.Open(filepath.Join(facesDir, name))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	im, err := jpeg.Decode(f)
	if err != nil {
		tb.Fatal(err)
	}
	switch y := im.(type) {
	case *image.YCbCr:
		b := y.Rect
		return img.Gray{W: b.Dx(), H: b.Dy(), Stride: y.YStride, Pix: y.Y[y.YOffset(b.Min.X, b.Min.Y):]}
	case *image.Gray:
		b := y.Rect
		return img.Gray{W: b.Dx(), H: b.Dy(), Stride: y.Stride, Pix: y.Pix[y.PixOffset(b.Min.X, b.Min.Y):]}
	}
	tb.Fatalf("%s: %T, want a YCbCr or gray JPEG", name, im)
	return img.Gray{}
}
