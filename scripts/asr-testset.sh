#!/usr/bin/env bash
# Synthesises the held-out ASR test set: every line of
# testdata/asr/sentences.txt spoken by two voices (espeak-ng en-us and
# festival's cmu_us_slt_arctic_hts), as 16 kHz mono WAV files:
#   var/asr/espeak/NN.wav, var/asr/slt/NN.wav  (NN = line number, from 01)
# Idempotent: a file already there and newer than the sentences is kept.
# Needs espeak-ng, festival + festvox-us-slt-hts (text2wave), gst-launch-1.0
# (audioresample, for espeak-ng's 22.05 kHz output).
set -euo pipefail
cd "$(dirname "$0")/.."

sentences=testdata/asr/sentences.txt
out=var/asr
for tool in espeak-ng text2wave gst-launch-1.0; do
	command -v "$tool" >/dev/null || { echo "asr-testset: $tool not found" >&2; exit 1; }
done
mkdir -p "$out/espeak" "$out/slt"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

n=0
made=0
while IFS= read -r line || [ -n "$line" ]; do
	[ -z "$line" ] && continue
	n=$((n + 1))
	id=$(printf '%02d' "$n")
	e="$out/espeak/$id.wav"
	if [ ! -s "$e" ] || [ "$sentences" -nt "$e" ]; then
		espeak-ng -v en-us -w "$tmp/e.wav" "$line"
		gst-launch-1.0 -q filesrc location="$tmp/e.wav" ! wavparse ! audioconvert ! audioresample \
			! audio/x-raw,rate=16000,channels=1,format=S16LE ! wavenc ! filesink location="$tmp/e16.wav"
		mv "$tmp/e16.wav" "$e"
		made=$((made + 1))
	fi
	s="$out/slt/$id.wav"
	if [ ! -s "$s" ] || [ "$sentences" -nt "$s" ]; then
		printf '%s\n' "$line" | text2wave -F 16000 -otype riff -eval '(voice_cmu_us_slt_arctic_hts)' -o "$tmp/s.wav"
		mv "$tmp/s.wav" "$s"
		made=$((made + 1))
	fi
done <"$sentences"
echo "asr-testset: $n sentences x 2 voices in $out ($made files made)"
