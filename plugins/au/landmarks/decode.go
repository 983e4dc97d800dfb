package landmarks

import (
	"errors"
	"fmt"
	"io"
	"math"
)

// This file reads dlib's portable serialization format (dlib/serialize.h):
//
//   - An integer is a control byte then up to 8 little-endian magnitude
//     bytes. The control byte's low 4 bits count the bytes that follow (1..8;
//     0 is invalid) and, for signed types, bit 0x80 is the sign. Unsigned
//     readers keep bit 0x80 in the count, so a set sign bit is an error there.
//   - A float is two such integers: a signed 64-bit mantissa, then a signed
//     16-bit exponent; the value is mantissa·2^exponent, except exponents
//     32000, 32001 and 32002+, which mean +Inf, -Inf and NaN.
//   - A matrix is its rows and columns as signed longs (negated in the
//     current format), then its elements row by row.
//   - A std::vector is its length as an unsigned long, then its elements.
//   - A dlib::vector<float,2> is x then y.

// dlib's float_details marks special values in the exponent.
const (
	expInf  = 32000
	expNInf = 32001
	expNaN  = 32002
)

// Minimum encoded sizes, used to refuse counts the rest of the input could
// not possibly hold before allocating for them.
const (
	minInt   = 2 // control byte and at least one byte
	minFloat = 2 * minInt
)

// reader is a buffered reader that knows its offset, so every error can say
// where in the file it happened, and how many bytes are left, so hostile
// counts can be refused before allocation.
type reader struct {
	r    io.Reader
	buf  []byte
	pos  int   // next unread byte in buf
	off  int64 // file offset of buf[0]
	size int64 // total input size
	err  error // sticky read error, reported once buf runs dry
}

// errTruncated marks input that ended inside a value.
var errTruncated = errors.New("unexpected end of file")

// FormatError is a malformed or truncated model file; Offset is the byte
// offset where the offending value starts.
type FormatError struct {
	Offset int64
	What   string
	Err    error
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("dlib shape predictor: offset %d: %s: %v", e.Offset, e.What, e.Err)
}

func (e *FormatError) Unwrap() error { return e.Err }

func newReader(r io.Reader, size int64) *reader {
	// 1 MiB chunks: large enough that refills cost nothing next to decoding,
	// small next to the model.
	n := int64(1 << 20)
	if size < n {
		n = max(size, 16)
	}
	return &reader{r: r, buf: make([]byte, 0, n), size: size}
}

func (d *reader) offset() int64 { return d.off + int64(d.pos) }

func (d *reader) remaining() int64 { return d.size - d.offset() }

func (d *reader) fail(at int64, what string, err error) error {
	return &FormatError{Offset: at, What: what, Err: err}
}

// failPart is fail for a part of a value (a float's mantissa), composing
// the name only when there is an error to report.
func (d *reader) failPart(at int64, what, part string, err error) error {
	if part != "" {
		what += " " + part
	}
	return d.fail(at, what, err)
}

// fill makes at least n (≤ 9) bytes available in buf[pos:], or as many as
// the input has left.
func (d *reader) fill(n int) {
	for len(d.buf)-d.pos < n && d.err == nil {
		if d.pos > 0 {
			rest := copy(d.buf, d.buf[d.pos:])
			d.off += int64(d.pos)
			d.buf = d.buf[:rest]
			d.pos = 0
		}
		m, err := d.r.Read(d.buf[len(d.buf):cap(d.buf)])
		d.buf = d.buf[:len(d.buf)+m]
		if err != nil {
			d.err = err
		}
	}
}

// rawInt reads one integer's control byte and magnitude.
func (d *reader) rawInt(what, part string) (ctrl byte, mag uint64, err error) {
	at := d.offset()
	if len(d.buf)-d.pos < 9 {
		d.fill(9)
	}
	if d.pos >= len(d.buf) {
		return 0, 0, d.failPart(at, what, part, d.eof())
	}
	ctrl = d.buf[d.pos]
	n := int(ctrl & 0x0f)
	if n == 0 || n > 8 {
		return 0, 0, d.failPart(at, what, part, fmt.Errorf("bad integer control byte %#02x", ctrl))
	}
	if len(d.buf)-d.pos < 1+n {
		return 0, 0, d.failPart(at, what, part, d.eof())
	}
	b := d.buf[d.pos+1 : d.pos+1+n]
	for i := n - 1; i >= 0; i-- {
		mag = mag<<8 | uint64(b[i])
	}
	d.pos += 1 + n
	return ctrl, mag, nil
}

func (d *reader) eof() error {
	if d.err != nil && d.err != io.EOF {
		return d.err
	}
	return errTruncated
}

// uint reads an unsigned integer of at most bits bits (dlib's unsigned
// long or int).
func (d *reader) uint(what string, bits uint) (uint64, error) {
	at := d.offset()
	ctrl, mag, err := d.rawInt(what, "")
	if err != nil {
		return 0, err
	}
	// dlib's unsigned reader ignores bits 0x70 but counts bit 0x80 as part
	// of the length, which makes a set sign bit an error.
	if ctrl&0x80 != 0 || uint(ctrl&0x0f)*8 > bits {
		return 0, d.fail(at, what, fmt.Errorf("bad unsigned integer control byte %#02x", ctrl))
	}
	return mag, nil
}

// int reads a signed integer of at most bits bits. dlib ignores bits
// 0x70 of the control byte for signed values; so do we.
func (d *reader) int(what string, bits uint) (int64, error) {
	return d.intPart(what, "", bits)
}

func (d *reader) intPart(what, part string, bits uint) (int64, error) {
	at := d.offset()
	ctrl, mag, err := d.rawInt(what, part)
	if err != nil {
		return 0, err
	}
	if uint(ctrl&0x0f)*8 > bits {
		return 0, d.failPart(at, what, part, fmt.Errorf("integer too wide for %d bits (control byte %#02x)", bits, ctrl))
	}
	// The magnitude of a valid value fits in bits-1 bits, except the most
	// negative one; anything wider is corruption, not a value dlib wrote.
	if mag > 1<<(bits-1) || (mag == 1<<(bits-1) && ctrl&0x80 == 0) {
		return 0, d.failPart(at, what, part, fmt.Errorf("integer overflows %d bits", bits))
	}
	if ctrl&0x80 != 0 {
		return -int64(mag), nil
	}
	return int64(mag), nil
}

// float reads a dlib float_details value as float32.
func (d *reader) float(what string) (float32, error) {
	if len(d.buf)-d.pos < 2 {
		d.fill(2)
	}
	// dlib also accepts an old ASCII float encoding, recognised by bits 0x70
	// of the first byte; the models in use are all binary, so it is refused.
	if d.pos < len(d.buf) && d.buf[d.pos]&0x70 != 0 {
		return 0, d.fail(d.offset(), what, errors.New("ASCII float encoding is not supported"))
	}
	man, err := d.intPart(what, "mantissa", 64)
	if err != nil {
		return 0, err
	}
	exp, err := d.intPart(what, "exponent", 16)
	if err != nil {
		return 0, err
	}
	switch {
	case exp < expInf:
		// float32(int64) rounds once, as C++'s (float)mantissa does; the
		// scaling by a power of two is then exact or under/overflows the
		// same way std::ldexp does for float.
		return float32(math.Ldexp(float64(float32(man)), int(exp))), nil
	case exp == expInf:
		return float32(math.Inf(1)), nil
	case exp == expNInf:
		return float32(math.Inf(-1)), nil
	default:
		return float32(math.NaN()), nil
	}
}

// count reads a std::vector length and refuses one the rest of the input
// cannot hold at minSize bytes per element, so a corrupt length never
// drives an allocation.
func (d *reader) count(what string, minSize int64) (int, error) {
	at := d.offset()
	n, err := d.uint(what, 64)
	if err != nil {
		return 0, err
	}
	if n > uint64(d.remaining()/minSize) {
		return 0, d.fail(at, what, fmt.Errorf("length %d exceeds what the remaining %d bytes can hold", n, d.remaining()))
	}
	return int(n), nil
}

// column reads a dlib column vector (matrix<float,0,1>) into dst, which
// must already have the expected length when want ≥ 0; want < 0 accepts any
// length and allocates.
func (d *reader) column(what string, dst []float32, want int) ([]float32, error) {
	at := d.offset()
	nr, err := d.intPart(what, "rows", 64)
	if err != nil {
		return nil, err
	}
	nc, err := d.intPart(what, "columns", 64)
	if err != nil {
		return nil, err
	}
	// The current format stores both sizes negated.
	if nr < 0 || nc < 0 {
		nr, nc = -nr, -nc
	}
	if nc != 1 || nr < 0 {
		return nil, d.fail(at, what, fmt.Errorf("matrix is %d×%d, want a column vector", nr, nc))
	}
	if want >= 0 && nr != int64(want) {
		return nil, d.fail(at, what, fmt.Errorf("vector has %d elements, want %d", nr, want))
	}
	if nr > d.remaining()/minFloat {
		return nil, d.fail(at, what, fmt.Errorf("%d elements exceed what the remaining %d bytes can hold", nr, d.remaining()))
	}
	if want < 0 {
		dst = make([]float32, nr)
	}
	for i := range dst {
		if dst[i], err = d.float(what); err != nil {
			return nil, err
		}
	}
	return dst, nil
}
