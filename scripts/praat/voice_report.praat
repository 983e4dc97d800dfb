# voice_report.praat: reference voice measures for the acoustic plugin's
# agreement tests (plugins/acoustic). Usage:
#   praat --run scripts/praat/voice_report.praat input.wav
# Prints "key value" lines, then one "frame <t> <f0> <hnr>" line per 10 ms
# pitch frame (f0 0 when unvoiced; hnr -200 where Harmonicity says silent),
# using Praat's standard settings:
#   Pitch: To Pitch (ac), time step 0 (= 10 ms), floor 75 Hz, ceiling 600 Hz
#   PointProcess (periodic, cc) 75-600 Hz
#   jitter (local): period floor 0.0001 s, ceiling 0.02 s, max period factor 1.3
#   shimmer (local, dB): the same, max amplitude factor 1.6
#   Harmonicity (cc): time step 0.01 s, floor 75 Hz, silence 0.1, 1 period
form Voice report
	sentence file
endform

sound = Read from file: file$
pitch = To Pitch: 0, 75, 600
meanF0 = Get mean: 0, 0, "Hertz"
nFrames = Get number of frames
nVoiced = Count voiced frames

selectObject: sound
pulses = To PointProcess (periodic, cc): 75, 600
nPulses = Get number of points
jitter = Get jitter (local): 0, 0, 0.0001, 0.02, 1.3
selectObject: sound, pulses
shimmer = Get shimmer (local_dB): 0, 0, 0.0001, 0.02, 1.3, 1.6

selectObject: sound
harm = To Harmonicity (cc): 0.01, 75, 0.1, 1
hnr = Get mean: 0, 0

writeInfoLine: "mean_f0_hz ", fixed$ (meanF0, 6)
appendInfoLine: "frames ", nFrames
appendInfoLine: "voiced_frames ", nVoiced
appendInfoLine: "pulses ", nPulses
appendInfoLine: "jitter_local ", fixed$ (jitter, 8)
appendInfoLine: "shimmer_local_db ", fixed$ (shimmer, 6)
appendInfoLine: "hnr_db ", fixed$ (hnr, 6)

# Per-frame track: both analyses use 10 ms frames, but each centres its
# frames on the sound on its own, so the HNR is read at the pitch frame's time.
selectObject: harm
nh = Get number of frames
for i to nFrames
	selectObject: pitch
	t = Get time from frame number: i
	f = Get value in frame: i, "Hertz"
	if f = undefined
		f = 0
	endif
	selectObject: harm
	j = Get frame number from time: t
	j = round (j)
	h = -200
	if j >= 1 and j <= nh
		h = Get value in frame: j
	endif
	appendInfoLine: "frame ", fixed$ (t, 6), " ", fixed$ (f, 4), " ", fixed$ (h, 4)
endfor
