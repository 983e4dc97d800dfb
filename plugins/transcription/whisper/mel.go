package whisper

import (
	"math"
	"math/cmplx"
)

// Whisper's front end: 16 kHz audio, 25 ms Hann windows every 10 ms, a
// 30 s window of 3000 frames.
const (
	sampleRate = 16000
	nFFT       = 400
	hopLength  = 160
	nSamples   = 30 * sampleRate // one window
	nFrames    = nSamples / hopLength
	nBins      = nFFT/2 + 1
)

// melFilter is one triangular filter: weights for bins first…first+len-1
// (the rest of the row is zero, so it is not stored).
type melFilter struct {
	first   int
	weights []float64
}

// frontEnd computes Whisper's log-mel spectrogram. Not safe for concurrent
// use (it keeps scratch buffers); a Recognizer owns one.
type frontEnd struct {
	nMels   int
	filters []melFilter
	window  [nFFT]float64
	fft     *fftPlan     // half length: real input packed two samples per complex value
	rtw     []complex128 // e^(−2πik/nFFT), k ≤ nFFT/2, to unpack the half-length transform
	frame   []complex128
	spec    []complex128
	power   [nBins]float64
	padded  []float64
}

func newFrontEnd(nMels int) *frontEnd {
	f := &frontEnd{
		nMels:   nMels,
		filters: melFilterbank(nMels, sampleRate, nFFT),
		fft:     newFFT(nFFT / 2),
		rtw:     make([]complex128, nFFT/2+1),
		frame:   make([]complex128, nFFT/2),
		spec:    make([]complex128, nFFT/2),
		padded:  make([]float64, nSamples),
	}
	// Periodic Hann (torch.hann_window's default): the window of an
	// N+1-point symmetric Hann without its last point, as STFTs use.
	for n := range f.window {
		f.window[n] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(n)/nFFT)
	}
	for k := range f.rtw {
		f.rtw[k] = cmplx.Rect(1, -2*math.Pi*float64(k)/nFFT)
	}
	return f
}

// Slaney's mel scale (librosa's default, htk=False): linear below 1 kHz,
// logarithmic above.
const (
	melFSp      = 200.0 / 3 // Hz per mel in the linear part
	melMinLogHz = 1000.0
	melMinLog   = melMinLogHz / melFSp
)

var melLogStep = math.Log(6.4) / 27

func hzToMel(f float64) float64 {
	if f < melMinLogHz {
		return f / melFSp
	}
	return melMinLog + math.Log(f/melMinLogHz)/melLogStep
}

func melToHz(m float64) float64 {
	if m < melMinLog {
		return m * melFSp
	}
	return melMinLogHz * math.Exp(melLogStep*(m-melMinLog))
}

// melFilterbank builds nMels triangles evenly spaced on the Slaney mel scale
// from 0 Hz to Nyquist, each scaled by 2/(its width in Hz) ("Slaney"
// normalisation: equal area), as librosa.filters.mel does by default and
// as Whisper's shipped filters were made.
func melFilterbank(nMels, sr, nfft int) []melFilter {
	nb := nfft/2 + 1
	hz := make([]float64, nMels+2)
	lo, hi := hzToMel(0), hzToMel(float64(sr)/2)
	for i := range hz {
		hz[i] = melToHz(lo + (hi-lo)*float64(i)/float64(nMels+1))
	}
	out := make([]melFilter, nMels)
	for m := range out {
		left, centre, right := hz[m], hz[m+1], hz[m+2]
		norm := 2 / (right - left)
		var w []float64
		first := -1
		for k := range nb {
			f := float64(k) * float64(sr) / float64(nfft)
			up := (f - left) / (centre - left)
			down := (right - f) / (right - centre)
			v := math.Max(0, math.Min(up, down)) * norm
			if v > 0 {
				if first < 0 {
					first = k
				}
				// Zeros between positive weights cannot occur in a
				// triangle, so the stored run is contiguous.
				w = append(w, v)
			} else if first >= 0 {
				break
			}
		}
		if first < 0 {
			first = 0 // a filter narrower than a bin (many mels, short FFT) is all zero
		}
		out[m] = melFilter{first: first, weights: w}
	}
	return out
}

// logMel writes the [nMels][3000] log-mel spectrogram of pcm (16 kHz, at
// most 30 s; longer input is cut) into out, row-major by mel band, the
// layout of the encoder's [1, n_mels, 3000] input. As Whisper does, the
// audio is zero-padded to 30 s, each frame is centred on its hop (the
// signal reflected at the edges), and the STFT's last frame is dropped.
func (f *frontEnd) logMel(pcm []int16, out []float32) {
	n := min(len(pcm), nSamples)
	for i := range n {
		f.padded[i] = float64(pcm[i]) / 32768
	}
	clear(f.padded[n:])
	const floor = -10.0 // log10(1e-10)
	top := math.Inf(-1)
	for t := range nFrames {
		start := t*hopLength - nFFT/2
		// Frames that only see the zero padding are the floor; skipping
		// them makes short utterances cheap.
		if start > n && start+nFFT < nSamples {
			for m := range f.nMels {
				out[m*nFrames+t] = floor
			}
			top = math.Max(top, floor)
			continue
		}
		f.powerSpectrum(start)
		for m, flt := range f.filters {
			var s float64
			for i, w := range flt.weights {
				s += w * f.power[flt.first+i]
			}
			v := math.Log10(math.Max(s, 1e-10))
			top = math.Max(top, v)
			out[m*nFrames+t] = float32(v)
		}
	}
	// Dynamic range of 80 dB below the loudest bin, then roughly to ±1.
	lowest := top - 8
	for i, v := range out[:f.nMels*nFrames] {
		out[i] = float32((math.Max(float64(v), lowest) + 4) / 4)
	}
}

// powerSpectrum sets f.power to |DFT|² of the windowed frame starting at
// sample start. The frame is real, so its 400-point DFT comes from a
// 200-point complex one of the even samples (real part) and odd samples
// (imaginary part): half the work.
func (f *frontEnd) powerSpectrum(start int) {
	sample := func(i int) float64 {
		j := start + i
		// Reflect without repeating the edge sample (numpy "reflect").
		if j < 0 {
			j = -j
		} else if j >= nSamples {
			j = 2*(nSamples-1) - j
		}
		return f.padded[j] * f.window[i]
	}
	for n := range nFFT / 2 {
		f.frame[n] = complex(sample(2*n), sample(2*n+1))
	}
	f.fft.transform(f.frame, f.spec)
	const h = nFFT / 2
	for k := range nBins {
		z := f.spec[k%h]
		zc := cmplx.Conj(f.spec[(h-k)%h])
		even := (z + zc) / 2
		odd := (z - zc) / complex(0, 2)
		x := even + f.rtw[k]*odd
		f.power[k] = real(x)*real(x) + imag(x)*imag(x)
	}
}

// Radix-5 butterfly constants: cos and sin of 2π/5 and 4π/5.
var (
	cos1, sin1 = math.Cos(2 * math.Pi / 5), math.Sin(2 * math.Pi / 5)
	cos2, sin2 = math.Cos(4 * math.Pi / 5), math.Sin(4 * math.Pi / 5)
)

// fftPlan is a mixed-radix decimation-in-time FFT for a fixed length
// (Whisper's 400 = 4·4·5·5 is not a power of two).
type fftPlan struct {
	n       int
	factors []int
	tw      []complex128 // e^(−2πik/n)
	tmp     []complex128
}

func newFFT(n int) *fftPlan {
	p := &fftPlan{n: n, tw: make([]complex128, n), tmp: make([]complex128, 8)}
	for k := range n {
		p.tw[k] = cmplx.Rect(1, -2*math.Pi*float64(k)/float64(n))
	}
	for m := n; m > 1; {
		r := 0
		for _, c := range []int{4, 2, 3, 5} {
			if m%c == 0 {
				r = c
				break
			}
		}
		if r == 0 { // a prime factor above 5: find it
			r = 7
			for m%r != 0 {
				r++
			}
		}
		p.factors = append(p.factors, r)
		m /= r
		if r > len(p.tmp) {
			p.tmp = make([]complex128, r)
		}
	}
	return p
}

// transform writes the DFT of in (length n) to out.
func (p *fftPlan) transform(in, out []complex128) {
	p.rec(in, 1, out, p.n, p.factors)
}

// rec computes the size-n DFT of in[0], in[stride], … into out: the r
// interleaved sub-sequences are transformed into consecutive blocks of out,
// then combined with twiddles in place, one output index k at a time.
func (p *fftPlan) rec(in []complex128, stride int, out []complex128, n int, factors []int) {
	if n == 1 {
		out[0] = in[0]
		return
	}
	r := factors[0]
	m := n / r
	for q := range r {
		p.rec(in[q*stride:], stride*r, out[q*m:(q+1)*m], m, factors[1:])
	}
	step := p.n / n // twiddle index step for size n
	rstep := p.n / r
	t := p.tmp[:r]
	for k := range m {
		for q := range r {
			t[q] = out[q*m+k] * p.tw[q*k*step] // q·k < n: no wrap
		}
		switch r {
		case 2:
			out[k], out[k+m] = t[0]+t[1], t[0]-t[1]
		case 4:
			// W4 = −i: the radix-4 butterfly needs no multiplications.
			a, b := t[0]+t[2], t[0]-t[2]
			c, d := t[1]+t[3], t[1]-t[3]
			di := complex(imag(d), -real(d)) // −i·d
			out[k], out[k+m], out[k+2*m], out[k+3*m] = a+c, b+di, a-c, b-di
		case 5:
			// Pairing q with 5−q leaves real cosines and sines.
			a1, b1 := t[1]+t[4], t[1]-t[4]
			a2, b2 := t[2]+t[3], t[2]-t[3]
			p1 := t[0] + complex(cos1, 0)*a1 + complex(cos2, 0)*a2
			p2 := t[0] + complex(cos2, 0)*a1 + complex(cos1, 0)*a2
			q1 := complex(sin1, 0)*b1 + complex(sin2, 0)*b2
			q2 := complex(sin2, 0)*b1 - complex(sin1, 0)*b2
			q1 = complex(imag(q1), -real(q1)) // −i·q1
			q2 = complex(imag(q2), -real(q2))
			out[k], out[k+m], out[k+2*m], out[k+3*m], out[k+4*m] = t[0]+a1+a2, p1+q1, p2+q2, p2-q2, p1-q1
		default:
			for s := range r {
				var acc complex128
				j := 0 // q·s mod r
				for q := range r {
					acc += t[q] * p.tw[j*rstep]
					if j += s; j >= r {
						j -= r
					}
				}
				out[k+s*m] = acc
			}
		}
	}
}
