// Package img holds the au plugin's image types: views of frame memory (the
// host's shared memory, never copied to build them) and the crops the
// models read.
package img

// RGB is packed 8-bit R, G, B rows of Stride bytes.
type RGB struct {
	W, H, Stride int
	Pix          []byte
}

// Gray is 8-bit luma rows of Stride bytes.
type Gray struct {
	W, H, Stride int
	Pix          []byte
}

// Point is a position in pixels of the frame (x right, y down).
type Point struct{ X, Y float32 }

// Rect is an axis-aligned box in pixels: [X0, X1) × [Y0, Y1).
type Rect struct{ X0, Y0, X1, Y1 float32 }

// W and H are the box's size.
func (r Rect) W() float32 { return r.X1 - r.X0 }
func (r Rect) H() float32 { return r.Y1 - r.Y0 }

// Center is the box's centre.
func (r Rect) Center() Point { return Point{(r.X0 + r.X1) / 2, (r.Y0 + r.Y1) / 2} }

// IoU is the intersection over union of two boxes; 0 when either is empty.
func IoU(a, b Rect) float32 {
	ix := min(a.X1, b.X1) - max(a.X0, b.X0)
	iy := min(a.Y1, b.Y1) - max(a.Y0, b.Y0)
	if ix <= 0 || iy <= 0 {
		return 0
	}
	inter := ix * iy
	union := a.W()*a.H() + b.W()*b.H() - inter
	if union <= 0 {
		return 0
	}
	return inter / union
}
